//! Layer compression on every core, with bytes that do not depend on how
//! many cores there are. The tar stream is cut into chunks of a fixed size;
//! each is deflated on its own (no window shared with the chunk before)
//! and ended with a sync flush, the last one with the final block. Joined,
//! the pieces are one gzip member, as `pigz --independent` writes it, that
//! every gzip reader reads. Each chunk is deflated in one call, so its bytes
//! depend on its content alone, not on the sizes the tar writer wrote in.

use flate2::{Compress, Compression, FlushCompress, Status};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Uncompressed bytes per chunk: large enough that starting each without
/// the previous window costs well under 1 % of the size, small enough that
/// a layer of a few tens of MB still spreads over the cores.
pub const CHUNK: usize = 1 << 20;

/// The deflate level of every layer (zlib's default).
const LEVEL: u32 = 6;

/// The header of every layer's gzip stream: no name, no timestamp, no
/// extra flags, "unknown" system (as flate2's gzip writer writes it).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

struct Job {
    seq: u64,
    data: Vec<u8>,
}

struct Done {
    seq: u64,
    deflated: io::Result<Vec<u8>>,
    crc: crc32fast::Hasher,
}

/// The workers, started when a stream turns out longer than one chunk.
struct Pool {
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Done>,
    threads: Vec<JoinHandle<()>>,
    in_flight: usize,
    limit: usize,
}

/// A gzip writer compressing whole chunks on a pool of threads, writing
/// them to `out` in order.
pub struct ChunkedGzip<W: Write> {
    out: W,
    chunk: Vec<u8>,
    pool: Option<Pool>,
    next_seq: u64,
    next_written: u64,
    arrived: BTreeMap<u64, Done>,
    crc: crc32fast::Hasher,
    total: u64,
}

impl<W: Write> ChunkedGzip<W> {
    pub fn new(out: W) -> ChunkedGzip<W> {
        ChunkedGzip {
            out,
            chunk: Vec::with_capacity(CHUNK),
            pool: None,
            next_seq: 0,
            next_written: 0,
            arrived: BTreeMap::new(),
            crc: crc32fast::Hasher::new(),
            total: 0,
        }
    }

    /// Compresses what is left as the final chunk, writes the trailer and
    /// gives back the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let last = std::mem::take(&mut self.chunk);
        if self.next_seq == 0 {
            self.out.write_all(&HEADER)?;
        }
        self.drain(true)?;
        let deflated = deflate(&last, true)?;
        self.crc.update(&last);
        self.total += last.len() as u64;
        self.out.write_all(&deflated)?;
        let crc = std::mem::take(&mut self.crc).finalize();
        self.out.write_all(&crc.to_le_bytes())?;
        // ISIZE is the length modulo 2^32 (RFC 1952).
        self.out.write_all(&(self.total as u32).to_le_bytes())?;
        self.pool = None;
        Ok(self.out)
    }

    /// Hands the full chunk to the pool (only once more bytes follow it:
    /// the last chunk must be finished, not flushed).
    fn send_chunk(&mut self) -> io::Result<()> {
        let data = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
        if self.next_seq == 0 {
            self.out.write_all(&HEADER)?;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.pool.get_or_insert_with(Pool::start);
        // Chunks done out of order wait in `arrived` and count too: memory
        // stays bounded whichever chunk is slow.
        while self
            .pool
            .as_ref()
            .is_some_and(|pool| pool.in_flight + self.arrived.len() >= pool.limit)
        {
            self.wait_one()?;
            self.drain(false)?;
        }
        let pool = self.pool.as_mut().expect("the pool was started");
        pool.jobs
            .as_ref()
            .expect("the pool takes jobs until finished")
            .send(Job { seq, data })
            .map_err(|_| io::Error::other("a compression thread stopped"))?;
        pool.in_flight += 1;
        self.drain(false)
    }

    /// Writes every chunk that is ready in order; with `all`, waits for
    /// every chunk sent.
    fn drain(&mut self, all: bool) -> io::Result<()> {
        loop {
            while let Some(done) = self.arrived.remove(&self.next_written) {
                self.crc.combine(&done.crc);
                self.out.write_all(&done.deflated?)?;
                self.next_written += 1;
            }
            let Some(pool) = self.pool.as_mut() else {
                return Ok(());
            };
            if pool.in_flight == 0 {
                return Ok(());
            }
            match pool.done.try_recv() {
                Ok(done) => self.arrived_one(done),
                Err(_) if all => self.wait_one()?,
                Err(_) => return Ok(()),
            }
        }
    }

    fn wait_one(&mut self) -> io::Result<()> {
        let pool = self.pool.as_mut().expect("waiting needs the pool");
        let done = pool
            .done
            .recv()
            .map_err(|_| io::Error::other("a compression thread stopped"))?;
        self.arrived_one(done);
        Ok(())
    }

    fn arrived_one(&mut self, done: Done) {
        if let Some(pool) = self.pool.as_mut() {
            pool.in_flight -= 1;
        }
        self.arrived.insert(done.seq, done);
    }
}

impl<W: Write> Write for ChunkedGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.chunk.len() == CHUNK && !buf.is_empty() {
            // Its CRC is the worker's, combined in order.
            self.total += CHUNK as u64;
            self.send_chunk()?;
        }
        let n = buf.len().min(CHUNK - self.chunk.len());
        self.chunk.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Closing the queue ends the workers; they are waited for, so none
/// outlives its stream.
impl Drop for Pool {
    fn drop(&mut self) {
        self.jobs = None;
        // A worker blocked sending a result is freed by taking them all.
        while self.done.try_recv().is_ok() {}
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Pool {
    fn start() -> Pool {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        let (jobs, job_queue) = sync_channel::<Job>(workers);
        let job_queue = Arc::new(Mutex::new(job_queue));
        let (done_tx, done) = sync_channel::<Done>(2 * workers);
        let threads = (0..workers)
            .map(|_| {
                let job_queue = Arc::clone(&job_queue);
                let done_tx = done_tx.clone();
                std::thread::spawn(move || work(&job_queue, &done_tx))
            })
            .collect();
        Pool {
            jobs: Some(jobs),
            done,
            threads,
            in_flight: 0,
            limit: 2 * workers,
        }
    }
}

fn work(job_queue: &Mutex<Receiver<Job>>, done: &SyncSender<Done>) {
    loop {
        let job = {
            let queue = job_queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.recv()
        };
        let Ok(job) = job else { return };
        let mut crc = crc32fast::Hasher::new();
        crc.update(&job.data);
        let deflated = deflate(&job.data, false);
        if done
            .send(Done {
                seq: job.seq,
                deflated,
                crc,
            })
            .is_err()
        {
            return;
        }
    }
}

/// `data` as raw deflate: ended by a sync flush (byte-aligned, not final),
/// or for the `last` chunk by the final block.
fn deflate(data: &[u8], last: bool) -> io::Result<Vec<u8>> {
    let mut compress = Compress::new(Compression::new(LEVEL), false);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(data.len() / 2 + 4096);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity());
        }
        let consumed = compress.total_in() as usize;
        let status = compress
            .compress_vec(&data[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let all_in = compress.total_in() as usize == data.len();
        // A flush is complete once it returns with room left to write.
        let flushed = if last {
            status == Status::StreamEnd
        } else {
            out.len() < out.capacity()
        };
        if all_in && flushed {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Text that compresses like real files do, not like zeros or noise.
    fn sample(len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        let mut n: u64 = 7;
        while out.len() < len {
            n = n
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            out.extend_from_slice(format!("line {} value {}\n", n % 977, n >> 50).as_bytes());
        }
        out.truncate(len);
        out
    }

    /// Written in uneven pieces, as the tar writer writes.
    fn chunked(data: &[u8]) -> Vec<u8> {
        let mut gz = ChunkedGzip::new(Vec::new());
        for piece in data.chunks(512 * 3 + 7) {
            gz.write_all(piece).unwrap();
        }
        gz.finish().unwrap()
    }

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        // A single-member reader: the chunks must form one gzip member.
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn short_streams_are_one_plain_gzip_member() {
        for len in [0, 1, 1000, CHUNK - 1, CHUNK] {
            let data = sample(len);
            let gz = chunked(&data);
            assert_eq!(gz[..10], HEADER, "{len} bytes");
            assert_eq!(gunzip(&gz), data, "{len} bytes");
            let size = u32::from_le_bytes(gz[gz.len() - 4..].try_into().unwrap());
            assert_eq!(size as usize, len);
        }
    }

    #[test]
    fn many_chunks_read_back_as_one_member_and_the_same_every_time() {
        for len in [CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 12345] {
            let data = sample(len);
            let gz = chunked(&data);
            assert_eq!(gunzip(&gz), data, "{len} bytes");
            assert_eq!(chunked(&data), gz, "{len} bytes: not deterministic");
            // Independent chunks cost little against one deflate stream.
            let mut one_pass = flate2::GzBuilder::new()
                .mtime(0)
                .write(Vec::new(), Compression::new(LEVEL));
            one_pass.write_all(&data).unwrap();
            let one_pass = one_pass.finish().unwrap().len();
            assert!(
                gz.len() < one_pass + one_pass / 50,
                "{} vs {one_pass}",
                gz.len()
            );
        }
    }
}
