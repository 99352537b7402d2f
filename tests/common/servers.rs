//! A scripted HTTP server on loopback, for tests of servers that misbehave:
//! it serves the files under a root the way `FileServer` does (a directory
//! gives its PEP 691 `index.json`), except at the paths a test gives a
//! `Rule` for — a body that never ends, one that trickles, a redirect, any
//! status, headers and body. Every request's method, path and
//! `Authorization` header is recorded, so a test can tell what a server
//! was sent (say, whether credentials followed a redirect to it).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server does at one path.
#[derive(Clone)]
pub enum Rule {
    /// This status, headers and body (`Content-Length` is added).
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// 200 with these headers and no `Content-Length`, then zeros until
    /// the client hangs up (at most 4 GiB, so a client that never stops
    /// reading cannot keep a test alive forever).
    Endless { headers: Vec<(String, String)> },
    /// 200 with these headers and the body's `Content-Length`, the body sent
    /// one byte at a time, `every` apart: no single read waits long, but the
    /// whole takes `body.len() * every`.
    Trickle {
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        every: Duration,
    },
    /// 200 with these headers and a `Content-Length` of `length`, then
    /// nothing more until the client hangs up (at most 10 minutes).
    Stall {
        headers: Vec<(String, String)>,
        length: usize,
    },
    /// Reads the request and answers nothing until the client hangs up (at
    /// most 10 minutes).
    Silent,
    /// `302 Found` to this URL.
    Redirect(String),
    /// This status and headers (no body) once, then `then` from the next
    /// request on: a server failing for a moment.
    Once {
        status: u16,
        headers: Vec<(String, String)>,
        then: Box<Rule>,
    },
}

impl Rule {
    /// 200 with this `Content-Type` and body.
    pub fn ok(content_type: &str, body: Vec<u8>) -> Rule {
        Rule::Respond {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
        }
    }

    /// Endless, with this `Content-Type`.
    pub fn endless(content_type: &str) -> Rule {
        Rule::Endless {
            headers: vec![("Content-Type".into(), content_type.into())],
        }
    }

    /// Stall after the headers (of this `Content-Type`, announcing `length` bytes).
    pub fn stall(content_type: &str, length: usize) -> Rule {
        Rule::Stall {
            headers: vec![("Content-Type".into(), content_type.into())],
            length,
        }
    }

    /// Trickle `body` (of this `Content-Type`), a byte every `every_ms` ms.
    pub fn trickle(content_type: &str, body: Vec<u8>, every_ms: u64) -> Rule {
        Rule::Trickle {
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
            every: Duration::from_millis(every_ms),
        }
    }
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    pub authorization: Option<String>,
}

#[derive(Default)]
struct State {
    root: Option<PathBuf>,
    rules: Mutex<HashMap<String, Rule>>,
    seen: Mutex<Vec<Seen>>,
    /// `Authorization` value every request must carry, if set (else 401).
    required_auth: Mutex<Option<String>>,
}

/// Serves `http://127.0.0.1:PORT/` until the test binary exits.
pub struct ScriptedServer {
    pub url: String,
    pub port: u16,
    state: Arc<State>,
}

impl ScriptedServer {
    /// Serves the files under `root` where no rule says otherwise.
    pub fn start(root: &Path) -> ScriptedServer {
        ScriptedServer::listen(Some(root.to_path_buf()))
    }

    /// Serves only what its rules say (404 elsewhere).
    pub fn empty() -> ScriptedServer {
        ScriptedServer::listen(None)
    }

    fn listen(root: Option<PathBuf>) -> ScriptedServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            root,
            ..State::default()
        });
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        ScriptedServer {
            url: format!("http://127.0.0.1:{port}"),
            port,
            state,
        }
    }

    /// From now on, answer `path` (e.g. `/simple/webframe/`) by `rule`.
    pub fn rule(&self, path: &str, rule: Rule) {
        self.state
            .rules
            .lock()
            .unwrap()
            .insert(path.to_string(), rule);
    }

    /// From now on, answer any request without `user:password` basic auth
    /// with `401` and a basic challenge.
    pub fn require_basic_auth(&self, user: &str, password: &str) {
        *self.state.required_auth.lock().unwrap() = Some(basic(user, password));
    }

    /// Every request so far, in order of arrival.
    pub fn requests(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Whether some request asked for `path`.
    pub fn was_asked_for(&self, path: &str) -> bool {
        self.requests().iter().any(|s| s.path == path)
    }
}

/// The `Authorization` value of basic auth with `user:password`.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

fn serve(mut stream: TcpStream, state: &State) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut authorization = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
        if let Some((k, v)) = header.split_once(':')
            && k.trim().eq_ignore_ascii_case("authorization")
        {
            authorization = Some(v.trim().to_string());
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("GET").to_string();
    let target = parts.next().unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/").to_string();
    state.seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.clone(),
        authorization: authorization.clone(),
    });
    let head_only = method == "HEAD";
    let required = state.required_auth.lock().unwrap().clone();
    if required.is_some() && authorization != required {
        let challenge = vec![(
            "WWW-Authenticate".to_string(),
            "Basic realm=\"test\"".to_string(),
        )];
        return respond(&mut stream, 401, &challenge, b"", head_only);
    }
    let rule = state.rules.lock().unwrap().get(&path).cloned();
    match rule {
        Some(Rule::Respond {
            status,
            headers,
            body,
        }) => respond(&mut stream, status, &headers, &body, head_only),
        Some(Rule::Redirect(to)) => {
            let location = vec![("Location".to_string(), to)];
            respond(&mut stream, 302, &location, b"", head_only)
        }
        Some(Rule::Endless { headers }) => {
            if write_head(&mut stream, 200, &headers, None).is_err() || head_only {
                return;
            }
            let zeros = [0u8; 65536];
            for _ in 0..65536 {
                if stream.write_all(&zeros).is_err() {
                    return;
                }
            }
        }
        Some(Rule::Trickle {
            headers,
            body,
            every,
        }) => {
            if write_head(&mut stream, 200, &headers, Some(body.len())).is_err() || head_only {
                return;
            }
            for byte in body {
                if stream
                    .write_all(&[byte])
                    .and_then(|_| stream.flush())
                    .is_err()
                {
                    return;
                }
                std::thread::sleep(every);
            }
        }
        Some(Rule::Stall { headers, length }) => {
            if write_head(&mut stream, 200, &headers, Some(length)).is_ok() && !head_only {
                wait_for_hangup(&mut stream);
            }
        }
        Some(Rule::Silent) => wait_for_hangup(&mut stream),
        Some(Rule::Once {
            status,
            headers,
            then,
        }) => {
            state.rules.lock().unwrap().insert(path.clone(), *then);
            respond(&mut stream, status, &headers, b"", head_only)
        }
        None => serve_file(&mut stream, state.root.as_deref(), &path, head_only),
    }
}

/// Holds the connection open, sending nothing, until the client closes it
/// (or 10 minutes pass, so no thread outlives a test run for long).
fn wait_for_hangup(stream: &mut TcpStream) {
    use std::io::Read as _;
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    let mut buf = [0u8; 1024];
    while std::time::Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

/// The file at `path` under `root` (a directory: its `index.json` as a
/// PEP 691 page, else its `index.html`), or 404.
fn serve_file(stream: &mut TcpStream, root: Option<&Path>, path: &str, head_only: bool) {
    let relative = path.trim_start_matches('/');
    let Some(root) = root.filter(|_| !relative.contains("..")) else {
        return respond(stream, 404, &[], b"", head_only);
    };
    let (file, content_type) = super::served_file(root, relative);
    match std::fs::read(&file) {
        Ok(body) => {
            let headers = vec![("Content-Type".to_string(), content_type.to_string())];
            respond(stream, 200, &headers, &body, head_only)
        }
        Err(_) => respond(stream, 404, &[], b"", head_only),
    }
}

fn respond(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    head_only: bool,
) {
    if write_head(stream, status, headers, Some(body.len())).is_ok() && !head_only {
        let _ = stream.write_all(body);
    }
}

fn write_head(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    length: Option<usize>,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        302 => "Found",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Whatever",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(length) = length {
        head.push_str(&format!("Content-Length: {length}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())
}
