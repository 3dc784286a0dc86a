//! Runs sled calls so that a panic inside sled (it panics on some damaged files) becomes a typed
//! error and prints nothing: the default panic hook would write a message and a backtrace to the
//! user's stderr.
//!
//! A process-wide hook is installed once. It stays silent only on a thread that is inside
//! [`catch`] at that moment, and hands every other panic to the hook that was there before, so
//! the embedding application's own panics are reported as they always were.
//! (Under `panic = "abort"` nothing can be caught: sled's panics then abort the process.)

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
    static MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

static INSTALL: Once = Once::new();

fn install() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                let text = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                MESSAGE.with(|m| *m.borrow_mut() = Some(text));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f`; a panic inside it is returned as its message, printed nowhere.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install();
    let was_quiet = QUIET.with(|q| q.replace(true));
    // AssertUnwindSafe: after a panic the caller only looks at the message, never at state the
    // closure may have left half-updated (sled's handle is dropped or reported as damaged).
    let result = catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was_quiet));
    result.map_err(|_| {
        MESSAGE
            .with(|m| m.borrow_mut().take())
            .unwrap_or_else(|| "unknown panic".into())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_becomes_its_message() {
        assert_eq!(super::catch(|| 5), Ok(5));
        let r: Result<(), String> = super::catch(|| panic!("damaged page {}", 7));
        assert_eq!(r, Err("damaged page 7".to_string()));
    }
}
