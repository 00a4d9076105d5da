//! Where rendered lines wait to be written. Producers append whole lines to a
//! buffer of their own shard (threads are spread over shards, so request
//! threads do not contend for one lock); one writer thread wakes every
//! [`FLUSH_EVERY`] (or sooner when an output's pending bytes pass a quarter of
//! its capacity) and writes each output's pending bytes in one call. The
//! capacity is per output, shared by all shards, so one busy thread may use
//! all of it — enough to ride out the writer's pause while it compresses a
//! rotated file. A request never waits for a disk or a pipe, and no thread is
//! woken per line: when an output is full the line is dropped and counted
//! instead. Dropping the [`SinkGuard`] writes out what
//! is left. Order is kept per thread; lines of different threads may
//! interleave by up to one flush interval.

use std::cell::Cell;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
const SHARDS: usize = 8;

struct Shared {
    /// `shards[s][output]`: bytes pending from threads of shard `s`.
    shards: Vec<Mutex<Vec<Vec<u8>>>>,
    wake: Condvar,
    wake_lock: Mutex<()>,
    stopping: AtomicBool,
    dropped: AtomicU64,
    /// Bytes pending per output, over all shards.
    pending: Vec<AtomicUsize>,
    capacity: usize,
}

#[derive(Clone)]
pub struct LineSink {
    shared: Arc<Shared>,
}

pub struct SinkGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

thread_local! {
    static SHARD: Cell<Option<usize>> = const { Cell::new(None) };
}
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

fn my_shard() -> usize {
    SHARD.with(|shard| match shard.get() {
        Some(s) => s,
        None => {
            let s = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
            shard.set(Some(s));
            s
        }
    })
}

impl LineSink {
    /// Starts the writer thread for `outputs`; each may hold about `capacity` bytes pending.
    pub fn start(
        outputs: Vec<Box<dyn Write + Send>>,
        capacity: usize,
    ) -> std::io::Result<(LineSink, SinkGuard)> {
        let shared = Arc::new(Shared {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(outputs.iter().map(|_| Vec::new()).collect()))
                .collect(),
            wake: Condvar::new(),
            wake_lock: Mutex::new(()),
            stopping: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            pending: outputs.iter().map(|_| AtomicUsize::new(0)).collect(),
            capacity,
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || write_loop(&worker, outputs))?;
        Ok((
            LineSink {
                shared: shared.clone(),
            },
            SinkGuard {
                shared,
                thread: Some(thread),
            },
        ))
    }

    /// Renders one line straight into the pending bytes of output `slot`
    /// (no buffer of its own, no copy in between), adds the newline, and
    /// copies the line to output `also` when given. A line that does not fit
    /// is taken back out, dropped and counted.
    pub fn push_with(&self, slot: usize, also: Option<usize>, render: impl FnOnce(&mut Vec<u8>)) {
        let shared = &self.shared;
        let Some(shard) = shared.shards.get(my_shard()) else {
            return;
        };
        let Ok(mut buffers) = shard.lock() else {
            return;
        };
        let Some(buffer) = buffers.get_mut(slot) else {
            return;
        };
        let start = buffer.len();
        render(buffer);
        buffer.push(b'\n');
        let length = buffer.len() - start;
        let Some(crossed) = shared.reserve(slot, length) else {
            buffer.truncate(start);
            drop(buffers);
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let mut wake = crossed;
        if let Some(also) = also
            && let (Some(from), Some(to)) = two_mut(&mut buffers, slot, also)
        {
            match shared.reserve(also, length) {
                Some(crossed) => {
                    to.extend_from_slice(&from[start..]);
                    wake |= crossed;
                }
                None => {
                    shared.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        drop(buffers);
        if wake {
            shared.wake.notify_one();
        }
    }

    /// Lines dropped because a buffer was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

/// Two different elements of `items`, both mutable; `None` for an index out
/// of range or when both name the same one.
fn two_mut<T>(items: &mut [T], a: usize, b: usize) -> (Option<&mut T>, Option<&mut T>) {
    if a == b {
        return (None, None);
    }
    let (low, high) = (a.min(b), a.max(b));
    let (head, tail) = items.split_at_mut(high.min(items.len()));
    let (first, second) = (head.get_mut(low), tail.first_mut());
    if a < b {
        (first, second)
    } else {
        (second, first)
    }
}

impl Shared {
    /// Counts `length` more bytes pending for `slot`, or refuses when they
    /// would pass the capacity. `Some(true)`: the writer should wake early.
    fn reserve(&self, slot: usize, length: usize) -> Option<bool> {
        let pending = self.pending.get(slot)?;
        let before = pending.fetch_add(length, Ordering::Relaxed);
        if before + length > self.capacity {
            pending.fetch_sub(length, Ordering::Relaxed);
            return None;
        }
        let threshold = self.capacity / 4;
        Some(before < threshold && before + length >= threshold)
    }
}

fn write_loop(shared: &Shared, mut outputs: Vec<Box<dyn Write + Send>>) {
    let mut pending: Vec<Vec<u8>> = outputs.iter().map(|_| Vec::new()).collect();
    loop {
        if let Ok(guard) = shared.wake_lock.lock() {
            let _ = shared.wake.wait_timeout(guard, FLUSH_EVERY);
        }
        let stopping = shared.stopping.load(Ordering::Acquire);
        for shard in &shared.shards {
            let Ok(mut buffers) = shard.lock() else {
                continue;
            };
            for ((buffer, out), count) in buffers
                .iter_mut()
                .zip(pending.iter_mut())
                .zip(&shared.pending)
            {
                count.fetch_sub(buffer.len(), Ordering::Relaxed);
                if out.is_empty() {
                    // The usual case, one busy shard: hand its buffer over whole.
                    std::mem::swap(buffer, out);
                } else {
                    out.extend_from_slice(buffer);
                    buffer.clear();
                }
            }
        }
        for (bytes, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if !bytes.is_empty() {
                // A failing output (a full disk, a closed pipe) must not stop the others.
                let _ = output.write_all(bytes).and_then(|()| output.flush());
                // A burst leaves its buffer behind; keep about what was used.
                let used = bytes.len();
                bytes.clear();
                bytes.shrink_to(used);
            }
        }
        if stopping {
            return;
        }
    }
}

/// One output that writes each batch to several: the JSON lines go to the
/// ring, the file and JSON stdout from one buffer.
pub struct Tee(pub Vec<Box<dyn Write + Send>>);

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for output in &mut self.0 {
            // One failing output (a full disk) must not starve the others.
            let _ = output.write_all(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        for output in &mut self.0 {
            let _ = output.flush();
        }
        Ok(())
    }
}

impl Drop for SinkGuard {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::capture::Capture;

    #[test]
    fn lines_are_written_whole_and_overflow_is_counted_not_waited_for() {
        let out = Capture::default();
        let (sink, guard) = LineSink::start(vec![Box::new(out.clone())], 64).unwrap();
        for i in 0..20 {
            sink.push_with(0, None, |out| {
                out.extend_from_slice(format!("line {i:02}").as_bytes())
            });
        }
        assert!(
            sink.dropped() > 0,
            "a full buffer drops lines instead of blocking"
        );
        drop(guard);
        let text = out.text();
        assert!(text.starts_with("line 00\n"));
        assert!(
            text.lines().all(|l| l.len() == 7),
            "no partial lines: {text:?}"
        );
        assert_eq!(text.lines().count() as u64 + sink.dropped(), 20);
    }

    #[test]
    fn lines_from_many_threads_all_arrive() {
        let out = Capture::default();
        let (sink, guard) = LineSink::start(vec![Box::new(out.clone())], 1 << 20).unwrap();
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        sink.push_with(0, None, |out| {
                            out.extend_from_slice(format!("t{t} {i}").as_bytes())
                        });
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        drop(guard);
        let text = out.text();
        assert_eq!(text.lines().count(), 2000);
        assert_eq!(sink.dropped(), 0);
    }

    /// An output whose writes wait until the test opens the gate, and that
    /// says when a write has started.
    struct Gated {
        out: Capture,
        gate: std::sync::mpsc::Receiver<()>,
        entered: std::sync::mpsc::Sender<()>,
    }

    impl Write for Gated {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.entered.send(());
            let _ = self.gate.recv();
            self.out.write(buf)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn one_thread_may_fill_the_whole_capacity_while_the_writer_is_busy() {
        let out = Capture::default();
        let (open, gate) = std::sync::mpsc::channel();
        let (entered, writing) = std::sync::mpsc::channel();
        let gated = Gated {
            out: out.clone(),
            gate,
            entered,
        };
        let (sink, guard) = LineSink::start(vec![Box::new(gated)], 1000).unwrap();
        sink.push_with(0, None, |o| o.extend_from_slice(b"first"));
        writing.recv().unwrap(); // the writer now waits inside a write
        for i in 0..100 {
            sink.push_with(0, None, |o| {
                o.extend_from_slice(format!("line {i:03}").as_bytes())
            });
        }
        assert_eq!(sink.dropped(), 0, "900 bytes fit a capacity of 1000");
        for i in 100..120 {
            sink.push_with(0, None, |o| {
                o.extend_from_slice(format!("line {i:03}").as_bytes())
            });
        }
        assert_eq!(sink.dropped(), 9, "the rest is dropped, not waited for");
        for _ in 0..10 {
            let _ = open.send(());
        }
        drop(guard);
        let text = out.text();
        assert_eq!(text.lines().count(), 1 + 111);
        assert!(text.ends_with("line 110\n"), "{text}");
    }

    #[test]
    fn a_line_rendered_once_reaches_both_outputs() {
        let (first, second) = (Capture::default(), Capture::default());
        let outputs: Vec<Box<dyn Write + Send>> =
            vec![Box::new(first.clone()), Box::new(second.clone())];
        let (sink, guard) = LineSink::start(outputs, 1 << 20).unwrap();
        sink.push_with(1, Some(0), |out| out.extend_from_slice(b"both"));
        sink.push_with(0, None, |out| out.extend_from_slice(b"one"));
        drop(guard);
        assert_eq!(first.text(), "both\none\n");
        assert_eq!(second.text(), "both\n");
    }

    #[test]
    fn two_mut_hands_out_distinct_elements_only() {
        let mut items = [1, 2, 3];
        assert_eq!(two_mut(&mut items, 2, 0), (Some(&mut 3), Some(&mut 1)));
        assert_eq!(two_mut(&mut items, 0, 1), (Some(&mut 1), Some(&mut 2)));
        assert_eq!(two_mut(&mut items, 1, 1), (None, None));
        assert_eq!(two_mut(&mut items, 0, 5), (Some(&mut 1), None));
    }
}
