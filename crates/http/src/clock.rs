//! The clock in the app state: system time in production, settable in tests, or (test-only,
//! sandbox only: `BILLHUB_CLOCK_SCALE`) system time sped up by a whole factor.

use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

/// The largest speed-up of a scaled clock (an hour per second).
pub const MAX_SCALE: u32 = 3600;

/// A clock. Cloning shares it: setting a test clock moves every holder.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    fixed: Option<Arc<Mutex<OffsetDateTime>>>,
    scaled: Option<Scaled>,
}

/// `epoch + (system now - epoch) * factor`: a pure function of the system time, so processes
/// given the same epoch and factor agree on the app time (a restarted process continues it).
#[derive(Clone, Copy, Debug)]
struct Scaled {
    epoch: OffsetDateTime,
    factor: u32,
}

impl Scaled {
    fn at(self, system: OffsetDateTime) -> OffsetDateTime {
        let elapsed = (system - self.epoch).whole_microseconds();
        let scaled = elapsed
            .checked_mul(i128::from(self.factor))
            .and_then(|us| i64::try_from(us).ok())
            .map(time::Duration::microseconds);
        match scaled.and_then(|d| self.epoch.checked_add(d)) {
            Some(t) => t,
            // Out of range (an epoch centuries away): the system time, never a panic.
            None => system,
        }
    }
}

impl Clock {
    pub fn system() -> Clock {
        Clock {
            fixed: None,
            scaled: None,
        }
    }

    /// A clock stopped at `at` until set or advanced.
    pub fn fixed(at: OffsetDateTime) -> Clock {
        Clock {
            fixed: Some(Arc::new(Mutex::new(at))),
            scaled: None,
        }
    }

    /// Test-only: a clock equal to the system time at `epoch` that then runs `factor` times as
    /// fast as it (`factor` is clamped to 1..=[`MAX_SCALE`]; 1 is the system clock). Never
    /// used in production: the configuration refuses it outside the sandbox.
    pub fn scaled(factor: u32, epoch: OffsetDateTime) -> Clock {
        let factor = factor.clamp(1, MAX_SCALE);
        if factor == 1 {
            return Clock::system();
        }
        Clock {
            fixed: None,
            scaled: Some(Scaled { epoch, factor }),
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        match (&self.fixed, self.scaled) {
            (Some(m), _) => match m.lock() {
                Ok(t) => *t,
                Err(poisoned) => *poisoned.into_inner(),
            },
            (None, Some(s)) => s.at(OffsetDateTime::now_utc()),
            (None, None) => OffsetDateTime::now_utc(),
        }
    }

    /// How many app seconds pass per real second: the scaled clock's factor, else 1. Real-time
    /// waits that stand for app time (the worker's polling) are divided by it.
    pub fn scale(&self) -> u32 {
        self.scaled.map_or(1, |s| s.factor)
    }

    /// Sets a fixed clock (no effect on the system or a scaled clock).
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[test]
    fn scaled_clock_runs_factor_times_system_time_from_its_epoch() {
        let epoch = OffsetDateTime::now_utc() - Duration::seconds(10);
        let c = Clock::scaled(60, epoch);
        assert_eq!(c.scale(), 60);
        assert!(!c.is_fixed());
        let s = Scaled { epoch, factor: 60 };
        assert_eq!(s.at(epoch), epoch);
        assert_eq!(
            s.at(epoch + Duration::seconds(2)),
            epoch + Duration::minutes(2)
        );
        assert_eq!(
            s.at(epoch + Duration::milliseconds(1_500)),
            epoch + Duration::seconds(90)
        );
        // Ten real seconds after the epoch: about ten app minutes.
        let ahead = c.now() - epoch;
        assert!(ahead >= Duration::minutes(10), "{ahead}");
        assert!(ahead < Duration::minutes(11), "{ahead}");
        // Setting does not move it; two clocks on the same epoch agree (a restart continues).
        c.set(epoch);
        assert!(c.now() - epoch >= Duration::minutes(10));
        let other = Clock::scaled(60, epoch);
        assert!((other.now() - c.now()).abs() < Duration::seconds(60));
    }

    #[test]
    fn scale_is_clamped_and_one_for_other_clocks() {
        let now = OffsetDateTime::now_utc();
        assert_eq!(Clock::scaled(1, now).scale(), 1);
        assert_eq!(Clock::scaled(0, now).scale(), 1);
        assert_eq!(Clock::scaled(99_999, now).scale(), MAX_SCALE);
        assert_eq!(Clock::system().scale(), 1);
        assert_eq!(Clock::fixed(now).scale(), 1);
        // An epoch out of range falls back to the system time instead of panicking.
        let far = Scaled {
            epoch: time::macros::datetime!(1000-01-01 0:00 UTC),
            factor: MAX_SCALE,
        };
        assert!((far.at(now) - now).abs() < Duration::seconds(1));
    }
}
