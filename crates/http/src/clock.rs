//! The clock in the app state: system time in production, settable in tests.

use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

/// A clock. Cloning shares it: setting a test clock moves every holder.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    fixed: Option<Arc<Mutex<OffsetDateTime>>>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock { fixed: None }
    }

    /// A clock stopped at `at` until set or advanced.
    pub fn fixed(at: OffsetDateTime) -> Clock {
        Clock {
            fixed: Some(Arc::new(Mutex::new(at))),
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        match &self.fixed {
            Some(m) => match m.lock() {
                Ok(t) => *t,
                Err(poisoned) => *poisoned.into_inner(),
            },
            None => OffsetDateTime::now_utc(),
        }
    }

    /// Sets a fixed clock (no effect on the system clock).
    pub fn set(&self, at: OffsetDateTime) {
        if let Some(m) = &self.fixed {
            match m.lock() {
                Ok(mut t) => *t = at,
                Err(poisoned) => *poisoned.into_inner() = at,
            }
        }
    }

    pub fn advance(&self, by: time::Duration) {
        let now = self.now();
        self.set(now + by);
    }

    pub fn is_fixed(&self) -> bool {
        self.fixed.is_some()
    }
}
