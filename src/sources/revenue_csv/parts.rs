//! Reading a big CSV file in two parts at once, one per core: the rows from about the middle on
//! on a second thread while this one reads the first half and checks that a row does start
//! where the second part does (else it reads on through the whole file and the second part is
//! dropped). Lines are counted in the whole file, so each part's problems name the lines one
//! reading would; the caller joins the parts' rows and finds what only the whole file shows
//! (repeated ids across the parts).

use std::ops::{ControlFlow, Range};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::{newlines, AtRow, Opened};

/// Files from this size on are read in two parts at once, one per core.
pub(crate) const TWO_PARTS_FROM: usize = 1 << 20;

/// The rows of one part of a file, as they are read.
pub(crate) trait Part: Send {
    /// Reads the rows from byte `from` of the file, for as long as `at_row` lets it.
    fn read(&mut self, from: usize, progress: &mut dyn FnMut(u64), at_row: AtRow<'_>);
    /// The first part reached the start of the second, which is kept: called before waiting
    /// for the second part.
    fn first_done(&mut self) {}
    /// The second part's reading is over (called on its thread; it may have been dropped).
    fn second_done(&mut self) {}
}

/// Where the `n`-th `\n` of `bytes` is (`n` from 1).
fn nth_newline(bytes: &[u8], n: usize) -> Option<usize> {
    memchr::memchr_iter(b'\n', bytes).nth(n.checked_sub(1)?)
}

/// Where the second part of a file's rows starts: the start of the first row that begins
/// after the middle line of the rows (rounded to a multiple of `per` lines), found by counting
/// quotes (a `\n` after an even number of them since the header ends a row in a well-formed
/// file); `None` when there is none. Counting can be fooled by a quote inside an unquoted
/// field, which CSV readers take literally: [`read_in_parts`] checks that a row does start
/// there.
pub(crate) fn second_part(bytes: &[u8], body: usize, per: usize) -> Option<usize> {
    let rows = bytes.get(body..)?;
    let half = newlines(rows) / 2;
    let per = per.max(1);
    let line = match (half + per / 2) / per * per {
        0 => half,
        n => n,
    };
    let mid = body + nth_newline(rows, line)?;
    let mut quoted = memchr::memchr_iter(b'"', bytes.get(body..mid)?).count() % 2 == 1;
    let mut previous = bytes.get(mid.checked_sub(1)?).copied();
    for (i, b) in bytes.iter().enumerate().skip(mid) {
        match (b, previous) {
            (b'"', _) => quoted = !quoted,
            // After a blank line the next row's reading starts before it, not after.
            (b'\n', Some(p)) if !quoted && p != b'\n' => {
                // A row ending in `\r\n` ends at its `\r` for the reader.
                let at = if p == b'\r' { i } else { i + 1 };
                return (at < bytes.len()).then_some(at);
            }
            _ => {}
        }
        previous = Some(*b);
    }
    None
}

/// Reads the rows of `opened` in one part, or in two from `second` (a [`second_part`]) on.
/// `new` makes a part for the bytes of the file it covers (`true` for the first); `dropped`
/// is called, on this thread, when the first part's reading finds no row starting where the
/// second part does. Returns the first part and the second if it was kept; `progress` is
/// given the lines read in both.
pub(crate) fn read_in_parts<L, P: Part>(
    file: &str,
    opened: &Opened<'_, L>,
    second: Option<usize>,
    new: impl Fn(Range<usize>, bool) -> P + Sync,
    mut progress: impl FnMut(u64),
    mut dropped: impl FnMut(),
) -> (P, Option<P>) {
    let bytes = opened.bytes;
    let first_end = second.unwrap_or(bytes.len());
    let given_up = AtomicBool::new(false);
    let second_line = AtomicU64::new(0);
    std::thread::scope(|scope| {
        let second_reader = second.map(|from| {
            let (new, given_up, second_line) = (&new, &given_up, &second_line);
            scope.spawn(move || {
                let mut part = new(from..bytes.len(), false);
                part.read(
                    from,
                    &mut |line| second_line.store(line, Ordering::Relaxed),
                    &mut |_| {
                        if given_up.load(Ordering::Relaxed) {
                            ControlFlow::Break(())
                        } else {
                            ControlFlow::Continue(())
                        }
                    },
                );
                part.second_done();
                part
            })
        });
        let first_lines = newlines(&bytes[..first_end]);
        let mut first = new(0..first_end, true);
        let mut reached = false;
        first.read(
            opened.body,
            &mut |line| {
                let done = second_line.load(Ordering::Relaxed);
                progress(line + (done as usize).saturating_sub(first_lines) as u64);
            },
            &mut |at| match second {
                Some(from) if !reached && !given_up.load(Ordering::Relaxed) && at >= from => {
                    if at == from {
                        reached = true;
                        return ControlFlow::Break(());
                    }
                    given_up.store(true, Ordering::Relaxed);
                    dropped();
                    tracing::debug!(file, "no row starts where the second part would: one part");
                    ControlFlow::Continue(())
                }
                _ => ControlFlow::Continue(()),
            },
        );
        let second = second_reader.map(|second| {
            if reached {
                first.first_done();
            }
            // A panic there is one here.
            second
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        (first, second.filter(|_| reached))
    })
}
