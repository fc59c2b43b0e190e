//! The checksum-database lookup begun with a download: polled by the task
//! that downloads, so its answer reaches that task without a hand-over
//! between tasks, and finished in the background when the task stops
//! waiting for it.

use crate::sumdb::{SumdbError, Vouch};
use futures_util::future::BoxFuture;
use std::future::Future;

type Lookup = BoxFuture<'static, Result<Vouch, SumdbError>>;

/// A lookup under way beside other work ([`LookAhead::beside`]), or done.
pub(super) struct LookAhead {
    state: State,
}

enum State {
    Running(Lookup),
    Done(Result<Vouch, SumdbError>),
    Taken,
}

impl LookAhead {
    /// Starts `lookup` and runs `work` while it goes on: `work`'s outcome,
    /// and the lookup (done, or still running) for [`LookAhead::answer`].
    /// The lookup is polled first, so its question goes out before `work`
    /// begins.
    pub(super) async fn beside<T>(lookup: Lookup, work: impl Future<Output = T>) -> (T, LookAhead) {
        let mut ahead = LookAhead {
            state: State::Running(lookup),
        };
        let mut work = std::pin::pin!(work);
        let out = std::future::poll_fn(|cx| {
            if let State::Running(f) = &mut ahead.state {
                if let std::task::Poll::Ready(r) = f.as_mut().poll(cx) {
                    ahead.state = State::Done(r);
                }
            }
            work.as_mut().poll(cx)
        })
        .await;
        (out, ahead)
    }

    /// The lookup's answer, waiting for it if it is still running.
    pub(super) async fn answer(mut self) -> Result<Vouch, SumdbError> {
        match std::mem::replace(&mut self.state, State::Taken) {
            State::Running(f) => f.await,
            State::Done(r) => r,
            State::Taken => unreachable!("a lookahead is answered once"),
        }
    }
}

impl Drop for LookAhead {
    /// A lookup nobody waits for any more still finishes (its answer is
    /// cached for the next attempt, and the go command's own lookup).
    fn drop(&mut self) {
        if let State::Running(f) = std::mem::replace(&mut self.state, State::Taken) {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = f.await;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    fn vouch(n: u64) -> Vouch {
        Vouch {
            zip: None,
            gomod: None,
            tree_size: n,
        }
    }

    #[tokio::test]
    async fn the_lookup_runs_beside_the_work_and_answers_after_it() {
        // Done before the work: kept.
        let (w, ahead) = LookAhead::beside(async { Ok(vouch(1)) }.boxed(), async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            7
        })
        .await;
        assert_eq!(w, 7);
        assert!(matches!(ahead.state, State::Done(_)));
        assert_eq!(ahead.answer().await.unwrap().tree_size, 1);
        // Still running when the work ends: awaited by answer().
        let (_, ahead) = LookAhead::beside(
            async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(vouch(2))
            }
            .boxed(),
            async {},
        )
        .await;
        assert!(matches!(ahead.state, State::Running(_)));
        assert_eq!(ahead.answer().await.unwrap().tree_size, 2);
    }

    #[tokio::test]
    async fn a_lookup_nobody_waits_for_finishes_in_the_background() {
        let finished = Arc::new(AtomicBool::new(false));
        let f = finished.clone();
        let (_, ahead) = LookAhead::beside(
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                f.store(true, Ordering::SeqCst);
                Ok(vouch(3))
            }
            .boxed(),
            async {},
        )
        .await;
        drop(ahead);
        for _ in 0..100 {
            if finished.load(Ordering::SeqCst) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the dropped lookup did not finish");
    }
}
