//! The web app (`web/`, built into `web/dist` by `make web`) served by the REST server at
//! [`MOUNT`] (`/app`) from a runtime directory (`openledgerd start --web-dir DIR`, or `web_dir`
//! in `app.toml`), and the local dev account endpoint ([`DEV_ACCOUNT_PATH`]) the app's
//! "local dev account" wallet reads (only with `--serve-dev-account` on a loopback bind, and
//! only to requests whose `Host` is a loopback name, so a DNS-rebound page cannot read it).
//!
//! Files: `GET`/`HEAD` only; the path is percent-decoded segment by segment, and a segment that
//! is empty, starts with `.` (hidden files, `..`), or holds `/`, `\` or NUL is refused; at most
//! [`MAX_SEGMENTS`] segments and [`MAX_PATH_BYTES`] bytes; the resolved file must lie inside
//! the canonical root (symlinks out of it are refused) and be at most [`MAX_FILE_BYTES`]. A
//! path without a file extension that names no file is the single-page app's route: it gets
//! `index.html` (SPA fallback); a missing asset is a 404. Hashed assets (`assets/`) are cached
//! for a year, `index.html` is revalidated on every load.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::{json, Value};

/// Where the app is served.
pub const MOUNT: &str = "/app";
/// Path of the dev account document.
pub const DEV_ACCOUNT_PATH: &str = "/openledger/dev/account";
/// Largest file served.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;
/// Most path segments below [`MOUNT`].
pub const MAX_SEGMENTS: usize = 16;
/// Longest request path accepted for a file.
pub const MAX_PATH_BYTES: usize = 1024;

/// The app's Content-Security-Policy: everything from this origin (the app talks to the REST
/// gateway it is served from), inline styles for the UI library, no framing.
pub const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; \
                       frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

type HttpResponse = Response<Full<Bytes>>;

/// The local dev account (address and mnemonic from the node home's `dev-account.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevAccount {
    /// Bech32 account address.
    pub address: String,
    /// BIP-39 mnemonic.
    pub mnemonic: String,
}

impl DevAccount {
    /// Reads `dev-account.json` (`{"address", "mnemonic", …}`) as `openledgerd init` writes it.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let field = |name: &str| doc[name].as_str().filter(|s| !s.is_empty()).map(str::to_string);
        match (field("address"), field("mnemonic")) {
            (Some(address), Some(mnemonic)) => Ok(Self { address, mnemonic }),
            _ => anyhow::bail!("{} has no address and mnemonic", path.display()),
        }
    }

    /// The JSON the app reads.
    pub fn document(&self) -> Value {
        json!({
            "label": "local dev account",
            "address": self.address,
            "mnemonic": self.mnemonic,
            "warning": "served only by a node started with --serve-dev-account on loopback; never use this key on a real network",
        })
    }
}

/// Whether a `Host` header names this machine (`127.0.0.1`, `localhost`, `[::1]`, any port).
pub fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inner, _)) => inner,
            None => return false,
        }
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    name.parse::<std::net::IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
}

/// Answers [`DEV_ACCOUNT_PATH`]: the account when served and asked through a loopback host name
/// (and, if the request names an origin, a loopback one); 403 otherwise, 404 when not served.
pub fn dev_account_response(account: Option<&DevAccount>, headers: &HeaderMap) -> HttpResponse {
    let Some(account) = account else {
        return text(StatusCode::NOT_FOUND, "this node does not serve a dev account (start it with --serve-dev-account on loopback)");
    };
    let host_ok = headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).is_some_and(is_loopback_host);
    let origin_ok = match headers.get(http::header::ORIGIN).map(|o| o.to_str()) {
        None => true,
        Some(Ok(origin)) => origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|rest| is_loopback_host(rest.trim_end_matches('/'))),
        Some(Err(_)) => false,
    };
    if !host_ok || !origin_ok {
        return text(StatusCode::FORBIDDEN, "the dev account is served to loopback host names only");
    }
    let body = serde_json::to_vec(&account.document()).unwrap_or_default();
    Response::builder()
        .status(StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::CACHE_CONTROL, "no-store")
        .header("x-content-type-options", "nosniff")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// 404 for a path this node does not serve (no web dir).
pub fn not_served(message: &str) -> HttpResponse {
    text(StatusCode::NOT_FOUND, message)
}

/// `/` → `/app/` when the app is served.
pub fn redirect_to_app() -> HttpResponse {
    Response::builder()
        .status(StatusCode::FOUND)
        .header(http::header::LOCATION, format!("{MOUNT}/"))
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn text(status: StatusCode, message: &str) -> HttpResponse {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header("x-content-type-options", "nosniff")
        .body(Full::new(Bytes::from(format!("{message}\n"))))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// Content type by file extension.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "wasm" => "application/wasm",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Why a path was not turned into a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The file to send.
    File(PathBuf),
    /// A path that may not be served (400).
    Refused(&'static str),
    /// No such asset (404).
    Missing,
}

/// The web app's directory.
#[derive(Debug, Clone)]
pub struct WebRoot {
    root: PathBuf,
}

impl WebRoot {
    /// Opens `dir` (it must exist and hold `index.html`).
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let root = dir.canonicalize().map_err(|e| anyhow::anyhow!("web dir {}: {e} (build it with `make web`)", dir.display()))?;
        anyhow::ensure!(root.is_dir(), "web dir {} is not a directory", root.display());
        anyhow::ensure!(root.join("index.html").is_file(), "web dir {} has no index.html (build it with `make web`)", root.display());
        Ok(Self { root })
    }

    /// The canonical directory served.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Maps the raw (still percent-encoded) path below [`MOUNT`] to a file.
    pub fn lookup(&self, raw: &str) -> Lookup {
        if raw.len() > MAX_PATH_BYTES {
            return Lookup::Refused("path too long");
        }
        let mut segments = Vec::new();
        for raw_segment in raw.split('/').filter(|s| !s.is_empty()) {
            let Some(segment) = crate::rest::percent_decode(raw_segment, false) else {
                return Lookup::Refused("invalid escape in path");
            };
            if segment.is_empty() || segment.starts_with('.') || segment.contains(['/', '\\', '\0']) || segment.contains(':') {
                return Lookup::Refused("path segment not allowed");
            }
            segments.push(segment);
            if segments.len() > MAX_SEGMENTS {
                return Lookup::Refused("path too deep");
            }
        }
        let index = self.root.join("index.html");
        if segments.is_empty() {
            return Lookup::File(index);
        }
        let mut candidate = self.root.clone();
        candidate.extend(&segments);
        match candidate.canonicalize() {
            Ok(real) if real.starts_with(&self.root) && real.is_file() => Lookup::File(real),
            Ok(real) if !real.starts_with(&self.root) => Lookup::Refused("path leaves the web dir"),
            _ => {
                // A route of the single-page app (`/app/datanets/3`) rather than a file.
                let last = segments.last().map(String::as_str).unwrap_or_default();
                if last.contains('.') || segments[0] == "assets" {
                    Lookup::Missing
                } else {
                    Lookup::File(index)
                }
            }
        }
    }

    /// Answers a request for `raw` (the path below [`MOUNT`]).
    pub fn respond(&self, method: &Method, raw: &str) -> HttpResponse {
        if method != Method::GET && method != Method::HEAD {
            let mut resp = text(StatusCode::METHOD_NOT_ALLOWED, "the web app is read with GET");
            resp.headers_mut().insert(http::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return resp;
        }
        let file = match self.lookup(raw) {
            Lookup::File(file) => file,
            Lookup::Refused(why) => return text(StatusCode::BAD_REQUEST, why),
            Lookup::Missing => return text(StatusCode::NOT_FOUND, "not found"),
        };
        let size = match std::fs::metadata(&file) {
            Ok(meta) => meta.len(),
            Err(_) => return text(StatusCode::NOT_FOUND, "not found (is the web app built? `make web`)"),
        };
        if size > MAX_FILE_BYTES {
            return text(StatusCode::PAYLOAD_TOO_LARGE, "file too large to serve");
        }
        let bytes = match std::fs::read(&file) {
            Ok(b) => b,
            Err(_) => return text(StatusCode::NOT_FOUND, "not found"),
        };
        let immutable = file.strip_prefix(&self.root).is_ok_and(|rel| rel.starts_with("assets"));
        let kind = content_type(&file);
        let mut builder = Response::builder()
            .status(StatusCode::OK)
            .header(http::header::CONTENT_TYPE, kind)
            .header("x-content-type-options", "nosniff")
            .header("referrer-policy", "no-referrer")
            .header(http::header::CACHE_CONTROL, if immutable { "public, max-age=31536000, immutable" } else { "no-cache" });
        if kind.starts_with("text/html") {
            builder = builder.header("content-security-policy", CSP).header("x-frame-options", "DENY");
        }
        builder.body(Full::new(Bytes::from(bytes))).unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
    }
}

/// The path below [`MOUNT`] when `path` is the app's (`/app`, `/app/…`).
pub fn app_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix(MOUNT)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, WebRoot) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("index.html"), "<!doctype html><title>app</title>").unwrap();
        std::fs::create_dir(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("assets/index-abc.js"), "console.log(1)").unwrap();
        std::fs::write(dir.path().join(".secret"), "no").unwrap();
        let web = WebRoot::open(dir.path()).expect("open");
        (dir, web)
    }

    #[test]
    fn files_routes_and_fallback() {
        let (_dir, web) = root();
        let index = web.root().join("index.html");
        assert_eq!(web.lookup(""), Lookup::File(index.clone()));
        assert_eq!(web.lookup("/"), Lookup::File(index.clone()));
        assert_eq!(web.lookup("/assets/index-abc.js"), Lookup::File(web.root().join("assets/index-abc.js")));
        assert_eq!(web.lookup("/datanets/3"), Lookup::File(index.clone()), "SPA route");
        assert_eq!(web.lookup("/assets/missing.js"), Lookup::Missing);
        assert_eq!(web.lookup("/favicon.ico"), Lookup::Missing);
        assert_eq!(web.lookup("/assets"), Lookup::Missing, "a directory is not a file");
    }

    #[test]
    fn traversal_and_hidden_files_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("outside.txt"), "secret").unwrap();
        let app = dir.path().join("dist");
        std::fs::create_dir(&app).unwrap();
        std::fs::write(app.join("index.html"), "x").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.path().join("outside.txt"), app.join("link.txt")).unwrap();
        let web = WebRoot::open(&app).expect("open");
        for bad in
            ["/../outside.txt", "/%2e%2e/outside.txt", "/..%2Foutside.txt", "/.secret", "/a%5c..%5coutside.txt", "/%00", "/C:x", "/%zz"]
        {
            assert!(matches!(web.lookup(bad), Lookup::Refused(_)), "{bad}: {:?}", web.lookup(bad));
        }
        #[cfg(unix)]
        assert_eq!(web.lookup("/link.txt"), Lookup::Refused("path leaves the web dir"));
        let deep = "/a".repeat(MAX_SEGMENTS + 1);
        assert_eq!(web.lookup(&deep), Lookup::Refused("path too deep"));
        let long = format!("/{}", "a".repeat(MAX_PATH_BYTES));
        assert_eq!(web.lookup(&long), Lookup::Refused("path too long"));
    }

    #[test]
    fn responses_carry_types_caching_and_policy() {
        let (_dir, web) = root();
        let html = web.respond(&Method::GET, "/datanets");
        assert_eq!(html.status(), StatusCode::OK);
        assert_eq!(html.headers()[http::header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(html.headers()[http::header::CACHE_CONTROL], "no-cache");
        assert_eq!(html.headers()["content-security-policy"], CSP);
        let js = web.respond(&Method::GET, "/assets/index-abc.js");
        assert_eq!(js.headers()[http::header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert!(js.headers()[http::header::CACHE_CONTROL].to_str().unwrap().contains("immutable"));
        assert_eq!(web.respond(&Method::POST, "/").status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(web.respond(&Method::GET, "/../x").status(), StatusCode::BAD_REQUEST);
        assert_eq!(web.respond(&Method::GET, "/assets/nope.js").status(), StatusCode::NOT_FOUND);
        assert_eq!(content_type(Path::new("a.svg")), "image/svg+xml");
        assert_eq!(content_type(Path::new("a.WASM")), "application/wasm");
        assert_eq!(content_type(Path::new("noext")), "application/octet-stream");
    }

    #[test]
    fn open_needs_an_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(WebRoot::open(dir.path()).is_err());
        assert!(WebRoot::open(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn mount_and_hosts() {
        assert_eq!(app_path("/app"), Some(""));
        assert_eq!(app_path("/app/x"), Some("/x"));
        assert_eq!(app_path("/apple"), None);
        assert_eq!(app_path("/cosmos/x"), None);
        for ok in ["127.0.0.1:1317", "localhost:1317", "LOCALHOST", "[::1]:1317", "127.0.0.2"] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in ["evil.example:1317", "10.0.0.1:1317", "[::1", "0.0.0.0:1317", "localhost.evil.example"] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn dev_account_only_to_loopback_hosts() {
        let account = DevAccount { address: "open1x".into(), mnemonic: "word ".repeat(24).trim().into() };
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, HeaderValue::from_static("127.0.0.1:1317"));
        assert_eq!(dev_account_response(Some(&account), &headers).status(), StatusCode::OK);
        assert_eq!(dev_account_response(None, &headers).status(), StatusCode::NOT_FOUND);
        headers.insert(http::header::ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert_eq!(dev_account_response(Some(&account), &headers).status(), StatusCode::FORBIDDEN);
        headers.insert(http::header::ORIGIN, HeaderValue::from_static("http://localhost:1317"));
        assert_eq!(dev_account_response(Some(&account), &headers).status(), StatusCode::OK);
        headers.insert(http::header::HOST, HeaderValue::from_static("rebound.example:1317"));
        assert_eq!(dev_account_response(Some(&account), &headers).status(), StatusCode::FORBIDDEN);
        assert!(dev_account_response(Some(&account), &HeaderMap::new()).status() == StatusCode::FORBIDDEN, "no Host");
    }
}
