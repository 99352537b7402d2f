//! The localhost port `pypack run --watch` serves on, held by pypack and
//! passed on to whichever container serves now: a new version is started
//! beside the old one, and the port moves to it once it answers, so an edit
//! is served without waiting for the old container to go (and a version that
//! does not start leaves the old one serving).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

pub struct Front {
    backend: Arc<AtomicU16>,
}

impl Front {
    /// Listens on `127.0.0.1:port`; connections go to the backend set last
    /// (none go anywhere before the first).
    pub fn listen(port: u16) -> std::io::Result<Front> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let backend = Arc::new(AtomicU16::new(0));
        let to = Arc::clone(&backend);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let port = to.load(Ordering::SeqCst);
                std::thread::spawn(move || pipe(client, port));
            }
        });
        Ok(Front { backend })
    }

    /// New connections go to `127.0.0.1:port`; open ones stay where they are.
    pub fn switch(&self, port: u16) {
        self.backend.store(port, Ordering::SeqCst);
    }
}

/// Copies both ways between `client` and the backend until both are done.
fn pipe(client: TcpStream, port: u16) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let (Ok(client_out), Ok(server_in)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let upstream = std::thread::spawn(move || copy_then_close(client, server_in));
    copy_then_close(server, client_out);
    let _ = upstream.join();
}

fn copy_then_close(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

/// Whether something answers HTTP on `127.0.0.1:port` (any reply counts)
/// before `deadline`, asking every 20 ms while `alive` says to go on.
pub fn answers(port: u16, deadline: Instant, alive: &mut dyn FnMut() -> bool) -> bool {
    while Instant::now() < deadline && alive() {
        if replies(port) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn replies(port: u16) -> bool {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let asked = stream.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let mut first = [0u8; 1];
    asked.is_ok() && matches!(stream.read(&mut first), Ok(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-answer HTTP server on a free port.
    fn backend(text: &'static str) -> u16 {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request);
                let _ = write!(stream, "HTTP/1.0 200 OK\r\n\r\n{text}");
            }
        });
        port
    }

    fn get(port: u16) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn the_front_port_moves_to_the_new_backend() {
        let port = TcpListener::bind(("127.0.0.1", 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let front = Front::listen(port).unwrap();
        let (old, new) = (backend("old"), backend("new"));
        let soon = || Instant::now() + Duration::from_secs(5);
        assert!(answers(old, soon(), &mut || true));
        front.switch(old);
        assert!(get(port).ends_with("old"));
        front.switch(new);
        assert!(get(port).ends_with("new"));
        // Nothing listening: no answer, and the wait ends when told to.
        let closed = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let nothing = closed.local_addr().unwrap().port();
        drop(closed);
        let mut asked = 0;
        assert!(!answers(nothing, soon(), &mut || {
            asked += 1;
            asked < 3
        }));
    }
}
