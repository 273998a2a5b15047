//! Pure analysis over slices read from the store: no I/O, no clocks, no globals; the calendar
//! comes in with the settings.

pub mod bugs;
pub mod changepoints;
pub mod correlate;
pub mod cost;
pub mod dora;
pub mod ownership;
pub mod pressure;
pub mod reliability;
pub mod revenue;
pub mod support;
pub mod system;
pub mod trend;
pub mod weekly;

pub use crate::model::calendar::{week_start_at, Calendar, DAY_MS, WEEK_MS};

/// The median (the mean of the two middle values for an even count); sorts `v`.
pub(crate) fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// `f` over `items` on every available core (scoped threads), results in order.
///
/// Each thread takes the next item not yet taken, so that uneven items share out: the
/// organisation's weekly figures cost as much as every service's together, and contiguous
/// halves left one core idle while the other did the organisation and half the services.
pub(crate) fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(items.len().max(1));
    if threads <= 1 {
        return items.iter().map(&f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let (f, next) = (&f, &next);
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            break mine;
                        };
                        mine.push((i, f(item)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod vocabulary_tests {
    /// The configuration validates against the vocabulary's lists; the analysis owns the tables
    /// and the components. They must say the same.
    #[test]
    fn the_vocabulary_lists_match_the_analysis() {
        assert_eq!(
            super::dora::bands::years(),
            crate::model::dora::REPORT_YEARS
        );
        let names: Vec<&str> = super::pressure::Component::ALL
            .iter()
            .map(|c| c.as_str())
            .collect();
        assert_eq!(names, crate::model::dora::PRESSURE_COMPONENTS);
    }
}

#[cfg(test)]
mod parallel_tests {
    #[test]
    fn parallel_map_keeps_the_order_of_uneven_items() {
        // The first item is the slowest, as the organisation is among the scopes.
        let items: Vec<u64> = (0..50).collect();
        let out = super::parallel_map(&items, |&i| {
            if i == 0 {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            i * 2
        });
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(super::parallel_map(&[] as &[u64], |&i| i).is_empty());
    }
}
