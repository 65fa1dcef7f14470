//! When a polled file's change is loaded: once the file has stayed as it is for one whole look
//! interval. A writer that truncates and then writes (`cp`, `>` in a shell, `fs::write`, many
//! editors) leaves the file empty or partial for a moment; a look caught there would load that
//! (an empty configuration revokes every token; a half-written key is refused and logged). The
//! one rule for the configuration file (`server::reload`) and the TLS pair (`server::tls`).

/// The stamp (modification time and size) last loaded, and a change seen once and not yet
/// settled.
#[derive(Debug)]
pub struct Settling<S> {
    seen: S,
    changing: Option<S>,
}

impl<S: PartialEq> Settling<S> {
    /// `loaded`: the stamp of what is in use now.
    pub fn new(loaded: S) -> Settling<S> {
        Settling { seen: loaded, changing: None }
    }

    /// The stamp at a look; true when a change has held since the previous look (load it now).
    pub fn look(&mut self, now: S) -> bool {
        if now == self.seen {
            self.changing = None;
            false
        } else if self.changing.as_ref() == Some(&now) {
            self.seen = now;
            self.changing = None;
            true
        } else {
            self.changing = Some(now);
            false
        }
    }

    /// A look that found no file: nothing to load, and no change settling.
    pub fn missing(&mut self) {
        self.changing = None;
    }

    /// Loaded by other means (SIGHUP): `now` is the stamp of what was loaded.
    pub fn loaded(&mut self, now: S) {
        self.seen = now;
        self.changing = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_loads_once_it_held_for_one_look() {
        let mut s = Settling::new(1);
        assert!(!s.look(1), "unchanged");
        assert!(!s.look(0), "truncated: seen once");
        assert!(!s.look(2), "written: another stamp, seen once");
        assert!(s.look(2), "held for one look");
        assert!(!s.look(2), "loaded already");
        assert!(!s.look(3));
        s.missing();
        assert!(!s.look(3), "a look without the file starts the settling again");
        assert!(s.look(3));
        assert!(!s.look(4));
        s.loaded(5);
        assert!(!s.look(4), "SIGHUP loaded 5: 4 is a new change");
        assert!(!s.look(5) && !s.look(5));
    }
}
