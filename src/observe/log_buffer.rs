//! Log lines gathered in memory and written out in batches, as Envoy does
//! with its access log (`AIRLOCK_LOG_FLUSH_MS`, default 100 ms): one
//! `write` for many request lines instead of one each. An unbuffered
//! line cost a system call (about 3 µs to a file, more to a pipe, and a
//! wake-up of whatever reads the pipe) on every request.
//!
//! What is not delayed: a warning or an error is written at once, after
//! the lines gathered before it (order is kept); a buffer past
//! `FLUSH_BYTES` is written by the thread that filled it; [`LogBuffer::flush`]
//! writes everything (`main` calls it at exit and from the panic hook). A
//! process killed outright loses at most one interval of `info` lines; the
//! audit database, not the log, is the durable record.
//!
//! Must not: lose a line while the output takes writes (a failed write
//! keeps its batch for the next one; only past `MAX_BYTES` of lines that
//! cannot be written do the oldest whole lines go); block a request on a
//! write it did not cause.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;
use tracing_subscriber::fmt::MakeWriter;

/// Written at once by the line that reaches it.
const FLUSH_BYTES: usize = 64 * 1024;

/// Where the lines go and in which order: `pending` is taken under its
/// lock, and the output lock is taken before that one is released, so
/// batches reach the output in the order they were taken.
struct Shared {
    pending: Mutex<Vec<u8>>,
    out: Mutex<Box<dyn Write + Send>>,
    /// Unparked when the first line lands in an empty buffer; unset with
    /// a zero interval (or when no thread could be made): every line is
    /// then written at once.
    flusher: OnceLock<std::thread::Thread>,
}

/// A `MakeWriter` for the log layer; clones share one buffer.
#[derive(Clone)]
pub struct LogBuffer {
    shared: Arc<Shared>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LogBuffer {
    /// Lines to `out`, gathered for up to `interval` (zero: every line
    /// is written at once, as an unbuffered writer would).
    pub fn new(out: Box<dyn Write + Send>, interval: Duration) -> LogBuffer {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Vec::new()),
            out: Mutex::new(out),
            flusher: OnceLock::new(),
        });
        if !interval.is_zero() {
            let weak = Arc::downgrade(&shared);
            let spawned = std::thread::Builder::new()
                .name("airlock-log".into())
                .spawn(move || {
                    // Sleeps until a line arrives, then gives its batch
                    // `interval` to grow; stops with the last handle.
                    loop {
                        std::thread::park();
                        std::thread::sleep(interval);
                        let Some(shared) = weak.upgrade() else { return };
                        write_out(&shared, lock(&shared.pending));
                    }
                });
            if let Ok(handle) = spawned {
                let _ = shared.flusher.set(handle.thread().clone());
            }
        }
        LogBuffer { shared }
    }

    /// Writes every line gathered so far.
    pub fn flush(&self) {
        write_out(&self.shared, lock(&self.shared.pending));
    }
}

/// Takes the gathered lines and writes them, in order (see `Shared`).
fn write_out(shared: &Shared, mut pending: MutexGuard<'_, Vec<u8>>) {
    if pending.is_empty() {
        return;
    }
    let batch = std::mem::take(&mut *pending);
    let mut out = lock(&shared.out);
    drop(pending);
    if out.write_all(&batch).and_then(|()| out.flush()).is_err() {
        // Kept for the next batch, ahead of what came since; past
        // MAX_BYTES the oldest lines give way.
        drop(out);
        let mut pending = lock(&shared.pending);
        let mut kept = batch;
        kept.extend_from_slice(&pending);
        let excess = kept.len().saturating_sub(MAX_BYTES);
        drop_oldest(&mut kept, excess);
        *pending = kept;
    }
}

/// Drops at least `excess` bytes from the front of `buf`, up to the end
/// of the line they end in, so no half line is left.
fn drop_oldest(buf: &mut Vec<u8>, excess: usize) {
    if excess == 0 {
        return;
    }
    // The line that byte `excess - 1` is in goes whole.
    let from = (excess - 1).min(buf.len());
    let cut = memchr::memchr(b'\n', &buf[from..]).map_or(buf.len(), |i| from + i + 1);
    buf.drain(..cut);
}

/// Kept across failed writes at most (the output is gone or full).
const MAX_BYTES: usize = 4 * 1024 * 1024;

/// One event's writer: appends to the buffer.
pub struct Line<'a> {
    shared: &'a Shared,
    urgent: bool,
}

impl Write for Line<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut pending = lock(&self.shared.pending);
        let was_empty = pending.is_empty();
        // Failed writes have piled up: make room, oldest lines first.
        let excess = (pending.len() + data.len()).saturating_sub(MAX_BYTES);
        drop_oldest(&mut pending, excess);
        pending.extend_from_slice(data);
        let flusher = self.shared.flusher.get();
        if self.urgent || pending.len() >= FLUSH_BYTES || flusher.is_none() {
            write_out(self.shared, pending);
        } else if was_empty {
            drop(pending);
            if let Some(t) = flusher {
                t.unpark();
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            shared: &self.shared,
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Line<'a> {
        Line {
            shared: &self.shared,
            urgent: *meta.level() <= tracing::Level::WARN,
        }
    }
}

/// The flush interval `AIRLOCK_LOG_FLUSH_MS` asks for (milliseconds,
/// 0 for none), else 100 ms; `Err` names what is wrong with it.
pub fn interval_from_env(value: Option<&str>) -> Result<Duration, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(Duration::from_millis(100)),
        Some(v) => match v.parse::<u64>() {
            Ok(ms) if ms <= 10_000 => Ok(Duration::from_millis(ms)),
            _ => Err(format!(
                "AIRLOCK_LOG_FLUSH_MS={v:?}: expected whole milliseconds from 0 to 10000"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// An output the test can read, and make fail.
    #[derive(Clone, Default)]
    struct Sink {
        bytes: Arc<Mutex<Vec<u8>>>,
        writes: Arc<Mutex<usize>>,
        broken: Arc<Mutex<bool>>,
    }

    impl Write for Sink {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            if *lock(&self.broken) {
                return Err(std::io::Error::other("broken pipe"));
            }
            *lock(&self.writes) += 1;
            lock(&self.bytes).extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(lock(&self.bytes).clone()).expect("utf-8")
        }
    }

    /// A buffer with `interval` over a sink the test reads.
    fn buffered(interval: Duration) -> (Sink, LogBuffer) {
        let sink = Sink::default();
        let buf = LogBuffer::new(Box::new(sink.clone()), interval);
        (sink, buf)
    }

    fn line(buf: &LogBuffer, urgent: bool, text: &str) {
        let mut w = Line {
            shared: &buf.shared,
            urgent,
        };
        w.write_all(text.as_bytes()).expect("append");
    }

    #[test]
    fn info_lines_wait_for_a_flush_and_keep_their_order() {
        let (sink, buf) = buffered(Duration::from_secs(3600));
        line(&buf, false, "a\n");
        line(&buf, false, "b\n");
        assert_eq!(sink.text(), "", "nothing written before the interval");
        buf.flush();
        assert_eq!(sink.text(), "a\nb\n");
        assert_eq!(*lock(&sink.writes), 1, "one write for the batch");
    }

    #[test]
    fn a_warning_is_written_at_once_after_the_lines_before_it() {
        let (sink, buf) = buffered(Duration::from_secs(3600));
        line(&buf, false, "info\n");
        line(&buf, true, "warn\n");
        assert_eq!(sink.text(), "info\nwarn\n");
    }

    #[test]
    fn the_interval_writes_the_batch_without_a_flush() {
        let (sink, buf) = buffered(Duration::from_millis(20));
        line(&buf, false, "x\n");
        let deadline = Instant::now() + Duration::from_secs(10);
        while sink.text().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(sink.text(), "x\n");
        // And again after going idle: the thread parks and is woken.
        line(&buf, false, "y\n");
        while sink.text() == "x\n" && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(sink.text(), "x\ny\n");
    }

    #[test]
    fn a_full_buffer_is_written_by_the_line_that_fills_it() {
        let (sink, buf) = buffered(Duration::from_secs(3600));
        let long = "z".repeat(1000) + "\n";
        for _ in 0..FLUSH_BYTES / long.len() + 1 {
            line(&buf, false, &long);
        }
        assert!(sink.text().len() >= FLUSH_BYTES, "{}", sink.text().len());
    }

    #[test]
    fn zero_interval_writes_every_line_at_once() {
        let (sink, buf) = buffered(Duration::ZERO);
        line(&buf, false, "a\n");
        assert_eq!(sink.text(), "a\n");
    }

    #[test]
    fn a_failed_write_keeps_the_lines_for_the_next_batch() {
        let (sink, buf) = buffered(Duration::from_secs(3600));
        *lock(&sink.broken) = true;
        line(&buf, false, "a\n");
        buf.flush();
        line(&buf, true, "b\n");
        assert_eq!(sink.text(), "");
        *lock(&sink.broken) = false;
        line(&buf, false, "c\n");
        buf.flush();
        assert_eq!(sink.text(), "a\nb\nc\n");
    }

    #[test]
    fn the_oldest_whole_lines_give_way() {
        let mut buf = b"one\ntwo\nthree\n".to_vec();
        drop_oldest(&mut buf, 0);
        assert_eq!(buf, b"one\ntwo\nthree\n");
        drop_oldest(&mut buf, 2);
        assert_eq!(buf, b"two\nthree\n", "the rest of the cut line goes too");
        drop_oldest(&mut buf, 4);
        assert_eq!(buf, b"three\n");
        drop_oldest(&mut buf, 100);
        assert!(buf.is_empty());
    }

    #[test]
    fn flush_interval_from_the_environment() {
        assert_eq!(interval_from_env(None), Ok(Duration::from_millis(100)));
        assert_eq!(interval_from_env(Some(" 0 ")), Ok(Duration::ZERO));
        assert_eq!(
            interval_from_env(Some("250")),
            Ok(Duration::from_millis(250))
        );
        for bad in ["-1", "1.5", "soon", "10001"] {
            let e = interval_from_env(Some(bad)).expect_err(bad);
            assert!(e.contains("AIRLOCK_LOG_FLUSH_MS"), "{e}");
        }
    }
}
