//! A bounded buffer that keeps only the last bytes of a stream, for captured output.

use std::sync::{Arc, Mutex};

use std::collections::VecDeque;

/// Keeps the last `cap` bytes pushed into it and counts the bytes it dropped.
#[derive(Debug)]
pub(super) struct TailBuffer {
    cap: usize,
    kept: VecDeque<u8>,
    cut: u64,
}

impl TailBuffer {
    /// An empty buffer that will keep at most `cap` bytes.
    pub(super) fn new(cap: usize) -> Self {
        TailBuffer {
            cap,
            kept: VecDeque::with_capacity(cap.min(64 * 1024)),
            cut: 0,
        }
    }

    /// Appends `data`, dropping the oldest bytes beyond the cap.
    pub(super) fn push(&mut self, data: &[u8]) {
        if data.len() >= self.cap {
            self.cut += (self.kept.len() + data.len() - self.cap) as u64;
            self.kept.clear();
            self.kept.extend(&data[data.len() - self.cap..]);
            return;
        }
        let overflow = (self.kept.len() + data.len()).saturating_sub(self.cap);
        self.kept.drain(..overflow);
        self.cut += overflow as u64;
        self.kept.extend(data);
    }

    /// The kept bytes as lossy UTF-8, prefixed with `[… N bytes cut …]` when bytes were dropped.
    ///
    /// A multi-byte character split by the cut is dropped whole (and counted as cut) rather than
    /// shown as a replacement character.
    pub(super) fn to_text(&self) -> String {
        let (front, back) = self.kept.as_slices();
        let mut bytes = Vec::with_capacity(self.kept.len());
        bytes.extend_from_slice(front);
        bytes.extend_from_slice(back);
        let mut cut = self.cut;
        let mut start = 0;
        if cut > 0 {
            // Skip at most three UTF-8 continuation bytes left over from a split character.
            while start < bytes.len().min(3) && bytes[start] & 0b1100_0000 == 0b1000_0000 {
                start += 1;
            }
            cut += start as u64;
        }
        let text = String::from_utf8_lossy(&bytes[start..]);
        if cut == 0 {
            text.into_owned()
        } else {
            format!("[… {cut} bytes cut …]\n{text}")
        }
    }
}

/// A running command's output so far, for readers outside the run (the run view).
#[derive(Debug, Default)]
pub struct LiveOutput(Mutex<Option<[Arc<Mutex<TailBuffer>>; 2]>>);

impl LiveOutput {
    /// The command's stdout and stderr buffers, once it has started.
    pub(super) fn attach(&self, stdout: Arc<Mutex<TailBuffer>>, stderr: Arc<Mutex<TailBuffer>>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some([stdout, stderr]);
    }

    /// The tails of stdout and stderr so far (empty before the command started).
    pub fn snapshot(&self) -> (String, String) {
        let buffers = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let text =
            |b: &Arc<Mutex<TailBuffer>>| b.lock().unwrap_or_else(|e| e.into_inner()).to_text();
        match buffers.as_ref() {
            Some([out, err]) => (text(out), text(err)),
            None => Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_the_cap_keeps_everything_without_a_marker() {
        let mut t = TailBuffer::new(10);
        t.push(b"abc");
        t.push(b"def");
        assert_eq!(t.to_text(), "abcdef");
    }

    #[test]
    fn over_the_cap_keeps_the_tail_and_counts_the_cut() {
        let mut t = TailBuffer::new(4);
        t.push(b"abc");
        t.push(b"def");
        assert_eq!(t.to_text(), "[… 2 bytes cut …]\ncdef");
        t.push(b"0123456789");
        assert_eq!(t.to_text(), "[… 12 bytes cut …]\n6789");
    }

    #[test]
    fn a_zero_cap_keeps_nothing() {
        let mut t = TailBuffer::new(0);
        t.push(b"hello");
        assert_eq!(t.to_text(), "[… 5 bytes cut …]\n");
    }

    #[test]
    fn a_character_split_by_the_cut_is_dropped_whole() {
        let mut t = TailBuffer::new(3);
        t.push("xé1".as_bytes()); // é is two bytes: the cut leaves its second byte first
        t.push(b"2");
        assert_eq!(t.to_text(), "[… 3 bytes cut …]\n12");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_a_panic() {
        let mut t = TailBuffer::new(16);
        t.push(&[b'a', 0xff, 0xfe, b'b']);
        assert_eq!(t.to_text(), "a\u{fffd}\u{fffd}b");
    }
}
