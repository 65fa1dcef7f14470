//! `tz('Area/City')`: which zone a statement's times are bucketed and printed in, resolved once,
//! when the statement is parsed, for every kind of statement (raw, aggregate, streamed,
//! subquery). The engine only ever sees the resolved zone.
//!
//! 1.6.7 parses `tz(name)` with Go's `time.LoadLocation(name)` and fails the whole query with
//! `unable to find time zone <name>` when that fails (HTTP 400, `error parsing query: ...`):
//!
//! * `""` and `UTC` are UTC; `Local` is the process's local zone (Go's `time.Local`: `$TZ` when
//!   set — empty or `UTC` meaning UTC —, else `/etc/localtime`; UTC when that cannot be loaded);
//! * a name containing `..` or starting with `/` or `\` is refused;
//! * any other name is a file under `$ZONEINFO`, then `/usr/share/zoneinfo/`,
//!   `/usr/share/lib/zoneinfo/` or `/usr/lib/locale/TZ/`, read as a zone (names are
//!   case-sensitive; a directory or a file that is not a zone is refused). So 1.x knows the zones
//!   of the machine it runs on, including aliases such as `posix/Europe/Berlin`, `posixrules`
//!   and `localtime`, and no others.
//!
//! influxgate computes offsets from its built-in zone database (`chrono_tz`), so a name resolves
//! when the machine has the file (1.x's check) and the built-in database knows the zone by that
//! name or by the name the file links to (`posix/Europe/Berlin` → `Europe/Berlin`, `localtime`
//! → the machine's zone; a `/etc/localtime` copied rather than linked is the zone
//! `/etc/timezone` names, or UTC, when their files hold the same bytes). A machine without any
//! zoneinfo directory has the built-in database only.
//!
//! Deviation: a zone file known neither way (`right/...` zones, which count leap seconds;
//! `Factory`) is refused with 1.x's error where 1.x answers: influxgate does not read zone
//! files, and answering in another zone would be silently wrong.

use std::path::{Path, PathBuf};

use chrono_tz::Tz;

/// The directories Go's `time.LoadLocation` reads on Unix, after `$ZONEINFO`.
const ZONEINFO_DIRS: [&str; 3] = ["/usr/share/zoneinfo/", "/usr/share/lib/zoneinfo/", "/usr/lib/locale/TZ/"];

/// The error 1.x gives for a zone it cannot load.
pub fn unknown(name: &str) -> String {
    format!("unable to find time zone {name}")
}

/// What a machine says about time zones, as Go's `time` package reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct System {
    /// Where zone files are looked up, in order.
    pub dirs: Vec<PathBuf>,
    /// `$TZ`, `None` when unset.
    pub tz_env: Option<String>,
    /// The local zone's file when `$TZ` is unset.
    pub localtime: PathBuf,
    /// The local zone's name, where the system writes it (Debian's `/etc/timezone`): names
    /// `localtime` when that is a copy of a zone file rather than a link to one.
    pub timezone_name: PathBuf,
}

impl System {
    /// This process's environment and file system (`$ZONEINFO`, `$TZ`, `/etc/localtime`).
    pub fn from_env() -> System {
        let mut dirs: Vec<PathBuf> = Vec::new();
        if let Some(z) = std::env::var_os("ZONEINFO").filter(|z| !z.is_empty()) {
            dirs.push(z.into());
        }
        dirs.extend(ZONEINFO_DIRS.iter().map(PathBuf::from));
        System {
            dirs,
            tz_env: std::env::var("TZ").ok(),
            localtime: "/etc/localtime".into(),
            timezone_name: "/etc/timezone".into(),
        }
    }

    /// The zone `tz(name)` means, or 1.x's error.
    pub fn resolve(&self, name: &str) -> Result<Tz, String> {
        match name {
            "" | "UTC" => Ok(Tz::UTC),
            "Local" => self.local().ok_or_else(|| unknown(name)),
            _ => self.named(name).ok_or_else(|| unknown(name)),
        }
    }

    /// A zone by its name (not `""`, `UTC` or `Local`).
    fn named(&self, name: &str) -> Option<Tz> {
        if name.contains("..") || name.starts_with('/') || name.starts_with('\\') {
            return None;
        }
        let dirs: Vec<&PathBuf> = self.dirs.iter().filter(|d| d.is_dir()).collect();
        if dirs.is_empty() {
            return name.parse().ok();
        }
        let file = dirs.iter().map(|d| d.join(name)).find(|f| f.is_file())?;
        name.parse().ok().or_else(|| self.zone_of_file(&file))
    }

    /// The built-in zone a zone file is, by the name its links resolve to under a zoneinfo
    /// directory.
    fn zone_of_file(&self, file: &Path) -> Option<Tz> {
        let target = file.canonicalize().ok()?;
        self.dirs.iter().filter_map(|d| d.canonicalize().ok()).find_map(|d| {
            let rel = target.strip_prefix(&d).ok()?;
            rel.to_str()?.parse().ok()
        })
    }

    /// Go's `time.Local`: `None` when the machine names a zone influxgate does not know.
    fn local(&self) -> Option<Tz> {
        match self.tz_env.as_deref() {
            Some("" | "UTC") => Some(Tz::UTC),
            Some(name) => match self.named(name) {
                Some(z) => Some(z),
                // Go falls back to UTC when it cannot load the zone at all.
                None if !self.has_file(name) => Some(Tz::UTC),
                None => None,
            },
            None if !self.localtime.is_file() => Some(Tz::UTC),
            None => self.zone_of_file(&self.localtime).or_else(|| self.copied_localtime()),
        }
    }

    /// The zone `localtime` is a copy of: the one the system names, or UTC, when its file holds
    /// the same bytes.
    fn copied_localtime(&self) -> Option<Tz> {
        let bytes = std::fs::read(&self.localtime).ok()?;
        let named = std::fs::read_to_string(&self.timezone_name).unwrap_or_default();
        let candidates = [named.trim(), "UTC"];
        let same = |name: &str| self.dirs.iter().any(|d| std::fs::read(d.join(name)).is_ok_and(|b| b == bytes));
        let zone = candidates.into_iter().filter(|n| !n.is_empty() && !n.contains("..")).find(|n| same(n))?;
        self.named(zone)
    }

    fn has_file(&self, name: &str) -> bool {
        !name.contains("..") && self.dirs.iter().any(|d| d.join(name).is_file())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A zoneinfo directory with Europe/Berlin, a link to it, a leap-second zone, a directory
    /// and a file that is no zone.
    fn machine() -> (tempfile::TempDir, System) {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("Europe")).unwrap();
        std::fs::create_dir_all(d.join("right/Europe")).unwrap();
        std::fs::write(d.join("Europe/Berlin"), "TZif").unwrap();
        std::fs::write(d.join("right/Europe/Berlin"), "TZif").unwrap();
        std::fs::write(d.join("iso3166.tab"), "DE\tGermany").unwrap();
        std::fs::create_dir_all(d.join("posix")).unwrap();
        symlink(d.join("Europe"), d.join("posix/Europe")).unwrap();
        symlink(d.join("Europe/Berlin"), d.join("localtime")).unwrap();
        let sys = System {
            dirs: vec![d.to_path_buf()],
            tz_env: None,
            localtime: d.join("localtime"),
            timezone_name: d.join("timezone"),
        };
        (dir, sys)
    }

    #[test]
    fn utc_and_the_empty_name_need_no_file() {
        let (_d, sys) = machine();
        assert_eq!(sys.resolve(""), Ok(Tz::UTC));
        assert_eq!(sys.resolve("UTC"), Ok(Tz::UTC));
    }

    #[test]
    fn names_the_machine_has() {
        let (_d, sys) = machine();
        assert_eq!(sys.resolve("Europe/Berlin"), Ok(Tz::Europe__Berlin));
        // links resolve to the zone they point at
        assert_eq!(sys.resolve("posix/Europe/Berlin"), Ok(Tz::Europe__Berlin));
        assert_eq!(sys.resolve("localtime"), Ok(Tz::Europe__Berlin));
    }

    #[test]
    fn names_the_machine_lacks_or_cannot_be_zones() {
        let (_d, sys) = machine();
        // known to the built-in database, but not to this machine (1.x refuses it too)
        assert_eq!(sys.resolve("Asia/Tokyo"), Err("unable to find time zone Asia/Tokyo".into()));
        for name in ["Nowhere/City", "europe/berlin", "Europe", "iso3166.tab", "right/Europe/Berlin", "../Europe/Berlin", "/Europe/Berlin", "\\x"] {
            assert_eq!(sys.resolve(name), Err(unknown(name)), "{name}");
        }
    }

    #[test]
    fn without_a_zoneinfo_directory_the_built_in_database_decides() {
        let sys = System {
            dirs: vec!["/nonexistent/zoneinfo".into()],
            tz_env: None,
            localtime: "/nonexistent/localtime".into(),
            timezone_name: "/nonexistent/timezone".into(),
        };
        assert_eq!(sys.resolve("Asia/Tokyo"), Ok(Tz::Asia__Tokyo));
        assert_eq!(sys.resolve("Nowhere/City"), Err(unknown("Nowhere/City")));
        // no /etc/localtime: Go's Local is UTC
        assert_eq!(sys.resolve("Local"), Ok(Tz::UTC));
    }

    #[test]
    fn local_follows_tz_then_localtime() {
        let (_d, mut sys) = machine();
        assert_eq!(sys.resolve("Local"), Ok(Tz::Europe__Berlin));
        sys.tz_env = Some(String::new());
        assert_eq!(sys.resolve("Local"), Ok(Tz::UTC));
        sys.tz_env = Some("UTC".into());
        assert_eq!(sys.resolve("Local"), Ok(Tz::UTC));
        sys.tz_env = Some("posix/Europe/Berlin".into());
        assert_eq!(sys.resolve("Local"), Ok(Tz::Europe__Berlin));
        // a zone Go cannot load: UTC, as Go does
        sys.tz_env = Some("Nowhere/City".into());
        assert_eq!(sys.resolve("Local"), Ok(Tz::UTC));
        // a zone Go loads but influxgate cannot name: refused rather than answered in UTC
        sys.tz_env = Some("right/Europe/Berlin".into());
        assert_eq!(sys.resolve("Local"), Err(unknown("Local")));
    }

    #[test]
    fn a_copied_localtime_is_named_by_the_system_or_unknown() {
        let (d, mut sys) = machine();
        let copy = d.path().join("copied_localtime");
        std::fs::write(&copy, "TZif").unwrap();
        sys.localtime = copy;
        // same bytes as Europe/Berlin, but nothing names it
        assert_eq!(sys.resolve("Local"), Err(unknown("Local")));
        std::fs::write(&sys.timezone_name, "Europe/Berlin\n").unwrap();
        assert_eq!(sys.resolve("Local"), Ok(Tz::Europe__Berlin));
        // a name whose file differs from the copy is not believed
        std::fs::write(d.path().join("right/Europe/Berlin"), "TZif2").unwrap();
        std::fs::write(&sys.timezone_name, "posix/Europe/Berlin").unwrap();
        assert_eq!(sys.resolve("Local"), Ok(Tz::Europe__Berlin));
        std::fs::write(&sys.timezone_name, "right/Europe/Berlin").unwrap();
        assert_eq!(sys.resolve("Local"), Err(unknown("Local")));
    }
}
