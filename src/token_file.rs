//! `influxgate token list`, `token revoke` and `token create --add-to-config`: the `[[tokens]]`
//! of a config file, listed and edited in place. The file is edited as a TOML document (`toml_edit`), so its comments, order
//! and layout stay as they were, except for the entry removed (with the comment lines right above
//! its `[[tokens]]` header, which belong to it). The result must still be a valid configuration
//! before it replaces the file (written beside it, then renamed over it, so a running server
//! watching the file never reads half of it). Nothing here sees a token: only names, rights and
//! the first hex digits of hashes.

use std::path::Path;

use toml_edit::DocumentMut;

use crate::config::Config;

/// Hex digits of a hash shown by `token list` (enough to tell tokens apart, useless to guess one).
pub const HASH_PREFIX_DIGITS: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("{path} is not valid TOML: {message}")]
    Toml { path: String, message: String },
    #[error("no token named {name:?} in {path} (tokens: {known})")]
    Unknown { name: String, path: String, known: String },
    #[error("a token named {name:?} is already in {path}")]
    Exists { name: String, path: String },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

/// One line of `token list`: name, rights, hash prefix.
pub fn list(path: &Path) -> Result<Vec<String>, TokenFileError> {
    let cfg = Config::load(path)?;
    Ok(cfg
        .tokens
        .iter()
        .map(|t| {
            let hex = t.hash.strip_prefix("sha256:").unwrap_or(&t.hash);
            let prefix = &hex[..hex.len().min(HASH_PREFIX_DIGITS)];
            let rights = if t.admin {
                "admin".to_string()
            } else {
                format!("read={} write={}", join(&t.read), join(&t.write))
            };
            format!("{}\t{rights}\tsha256:{prefix}...", t.name)
        })
        .collect())
}

fn join(dbs: &[String]) -> String {
    if dbs.is_empty() {
        "-".into()
    } else {
        dbs.join(",")
    }
}

/// Removes the token `name` from the file.
pub fn revoke(path: &Path, name: &str) -> Result<(), TokenFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read { path: shown.clone(), source })?;
    let mut doc: DocumentMut =
        text.parse().map_err(|e: toml_edit::TomlError| TokenFileError::Toml { path: shown.clone(), message: e.to_string() })?;
    let names = token_names(&doc);
    let unknown = || TokenFileError::Unknown {
        name: name.to_string(),
        path: shown.clone(),
        known: if names.is_empty() { "none".into() } else { names.join(", ") },
    };
    let tokens = doc.get_mut("tokens").and_then(|t| t.as_array_of_tables_mut()).ok_or_else(unknown)?;
    let index = tokens
        .iter()
        .position(|t| t.get("name").and_then(|n| n.as_str()) == Some(name))
        .ok_or_else(unknown)?;
    tokens.remove(index);
    if tokens.is_empty() {
        doc.remove("tokens");
    }
    let edited = doc.to_string();
    Config::parse(&edited)?;
    replace(path, &edited).map_err(|source| TokenFileError::Write { path: shown, source })
}

/// A new `[[tokens]]` entry, as `token create` prints it.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    pub hash: String,
    pub admin: bool,
    pub read: Vec<String>,
    pub write: Vec<String>,
}

/// Appends `token` to the file's `[[tokens]]` (the file is made when missing).
pub fn add(path: &Path, token: &NewToken) -> Result<(), TokenFileError> {
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(TokenFileError::Read { path: shown, source }),
    };
    let mut doc: DocumentMut =
        text.parse().map_err(|e: toml_edit::TomlError| TokenFileError::Toml { path: shown.clone(), message: e.to_string() })?;
    if token_names(&doc).contains(&token.name) {
        return Err(TokenFileError::Exists { name: token.name.clone(), path: shown });
    }
    let list = |dbs: &[String]| dbs.iter().map(|d| d.trim()).filter(|d| !d.is_empty()).collect::<toml_edit::Array>();
    let mut t = toml_edit::Table::new();
    t.insert("name", toml_edit::value(token.name.as_str()));
    t.insert("hash", toml_edit::value(token.hash.as_str()));
    if token.admin {
        t.insert("admin", toml_edit::value(true));
    }
    t.insert("read", toml_edit::value(list(&token.read)));
    t.insert("write", toml_edit::value(list(&token.write)));
    let tokens = doc.entry("tokens").or_insert_with(|| toml_edit::Item::ArrayOfTables(toml_edit::ArrayOfTables::new()));
    let Some(tokens) = tokens.as_array_of_tables_mut() else {
        return Err(TokenFileError::Toml { path: shown, message: "`tokens` is not an array of tables ([[tokens]])".into() });
    };
    tokens.push(t);
    let edited = doc.to_string();
    Config::parse(&edited)?;
    replace(path, &edited).map_err(|source| TokenFileError::Write { path: shown, source })
}

fn token_names(doc: &DocumentMut) -> Vec<String> {
    let Some(tokens) = doc.get("tokens").and_then(|t| t.as_array_of_tables()) else { return Vec::new() };
    tokens.iter().filter_map(|t| t.get("name").and_then(|n| n.as_str()).map(str::to_string)).collect()
}

/// Writes `text` beside `path` and renames it over `path`, keeping the file's permissions and
/// owner: the Debian package's /etc/influxgate/config.toml is root:influxgate 0640, and a copy
/// owned by root:root would no longer be readable by the server it configures.
fn replace(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(&tmp, meta.permissions())?;
        let made = std::fs::metadata(&tmp)?;
        if (made.uid(), made.gid()) != (meta.uid(), meta.gid()) {
            if let Err(e) = std::os::unix::fs::chown(&tmp, Some(meta.uid()), Some(meta.gid())) {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        }
    }
    let f = std::fs::File::open(&tmp)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# top comment\n[limits]\nburst = 10 # inline\n\n# the writer\n[[tokens]]\nname = \"w\"\n\
        hash = \"sha256:1111111111111111111111111111111111111111111111111111111111111111\"\nwrite = [\"db\"]\n\n\
        # the reader\n[[tokens]]\nname = \"r\"\nhash = \"sha256:2222222222222222222222222222222222222222222222222222222222222222\"\n\
        read = [\"*\"]\n";

    #[test]
    fn lists_and_revokes_keeping_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, FILE).unwrap();
        let lines = list(&path).unwrap();
        assert_eq!(lines, ["w\tread=- write=db\tsha256:111111111111...", "r\tread=* write=-\tsha256:222222222222..."]);
        revoke(&path, "w").unwrap();
        let after = std::fs::read_to_string(&path).unwrap();
        assert!(after.contains("# top comment") && after.contains("burst = 10 # inline") && after.contains("# the reader"), "{after}");
        assert!(!after.contains("\"w\"") && !after.contains("# the writer"), "{after}");
        let e = revoke(&path, "w").unwrap_err().to_string();
        assert!(e.contains("no token named \"w\"") && e.contains("tokens: r"), "{e}");
        revoke(&path, "r").unwrap();
        assert!(list(&path).unwrap().is_empty());
        let new = NewToken {
            name: "n".into(),
            hash: format!("sha256:{}", "3".repeat(64)),
            admin: false,
            read: vec!["a".into(), " b".into()],
            write: vec![],
        };
        add(&path, &new).unwrap();
        assert!(add(&path, &new).unwrap_err().to_string().contains("already"));
        assert_eq!(list(&path).unwrap(), ["n\tread=a,b write=-\tsha256:333333333333..."]);
        assert!(std::fs::read_to_string(&path).unwrap().contains("# top comment"));
    }
}
