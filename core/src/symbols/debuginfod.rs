//! A small debuginfod client: fetches a binary (`/buildid/<id>/executable`) or its separate
//! debug file (`/buildid/<id>/debuginfo`) by build-id from the servers the user names
//! (usually `DEBUGINFOD_URLS`), when no local file has it.
//!
//! HTTP/1.1 over `std::net::TcpStream`, by hand: the protocol needs one GET and a body. For
//! `https://` servers (all the public ones: `https://debuginfod.elfutils.org/`, the
//! distributions') the same stream is wrapped in TLS by rustls (pure Rust, the `ring` crypto
//! provider), so http and https share all the HTTP code. Certificates are checked against the
//! system's root certificates (`rustls-native-certs`: `SSL_CERT_FILE` / `SSL_CERT_DIR` when set,
//! else the distribution's store, loaded once per process on the first https request); a server
//! whose certificate is not trusted is a warning ("certificate of HOST not trusted: …") and is not
//! asked again. Redirects (301, 302, 303, 307, 308: federating servers send clients to the one
//! that has the file) are followed, at most [`MAX_REDIRECTS`], between http and https either way.
//! Every read and write has a timeout, the response head and the body have size limits.
//!
//! Downloads land in a cache directory, `<cache>/<build-id>/{executable,debuginfo}`, written
//! to a temporary name and renamed, so a cached file is always complete; a cached file is used
//! without asking the network. A server's "not found" is remembered for the process, as is a
//! server that cannot be reached, so a profile with fifty modules does not ask fifty times.

use rustc_hash::FxHashSet;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Connect, read and write timeout. A debuginfod that does not answer within this is treated
/// as unreachable for the rest of the process.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Largest file downloaded. Debug files of big programs (a browser, a compiler) reach a few
/// GiB; a server sending more is broken or hostile.
pub const MAX_DOWNLOAD_BYTES: u64 = 2 << 30;
/// Largest response head (status line and headers).
const MAX_HEAD_BYTES: usize = 64 << 10;
/// Redirects followed (federating servers redirect to the one that has the file).
const MAX_REDIRECTS: usize = 5;

/// What to fetch for a build-id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Artifact {
    Executable,
    Debuginfo,
}

impl Artifact {
    fn name(self) -> &'static str {
        match self {
            Self::Executable => "executable",
            Self::Debuginfo => "debuginfo",
        }
    }
}

/// A parsed `http[s]://host[:port][/prefix]` server URL.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Server {
    /// `https://`.
    tls: bool,
    host: String,
    port: u16,
    /// Path prefix without a trailing slash (`""` or `/debuginfod`).
    prefix: String,
}

/// Parses an `http://` or `https://` server URL. `Err` names why it is not used.
fn parse_url(url: &str) -> Result<Server, String> {
    let (server, path) = split_url(url)?;
    Ok(Server {
        prefix: path.trim_end_matches('/').to_string(),
        ..server
    })
}

/// `http[s]://host[:port]/path` → the server (empty prefix) and the path (`""` if none,
/// without a `#fragment`).
fn split_url(url: &str) -> Result<(Server, &str), String> {
    let skipped = |why: &str| format!("debuginfod server {url} skipped: {why}");
    let (tls, rest) = if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else {
        return Err(skipped("not an http:// or https:// URL"));
    };
    let rest = rest.split('#').next().unwrap_or_default();
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    // `[v6 address]:port` or `host:port`, the port optional.
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']').ok_or_else(|| skipped("bad host"))?;
            (h, after.strip_prefix(':'))
        }
        None => match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| skipped("bad port"))?,
        None if tls => 443,
        None => 80,
    };
    if host.is_empty() || host.contains(['@', ' ', '/']) {
        return Err(skipped("bad host"));
    }
    let server = Server {
        tls,
        host: host.to_string(),
        port,
        prefix: String::new(),
    };
    Ok((server, path))
}

/// Servers answered "not found" for (server, build-id, artifact), and servers that could not
/// be reached: remembered for the process.
static MISSES: Mutex<Option<FxHashSet<String>>> = Mutex::new(None);
static UNREACHABLE: Mutex<Option<FxHashSet<String>>> = Mutex::new(None);

fn remembered(set: &Mutex<Option<FxHashSet<String>>>, key: &str) -> bool {
    set.lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .is_some_and(|s| s.contains(key))
}

fn remember(set: &Mutex<Option<FxHashSet<String>>>, key: String) {
    set.lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(FxHashSet::default)
        .insert(key);
}

/// The client of one symbolization: its servers, cache directory and the warnings it has.
pub struct Client {
    servers: Vec<(String, Server)>,
    cache: PathBuf,
    warnings: Mutex<Vec<String>>,
    tls: Tls,
}

/// The root certificates of the system: `SSL_CERT_FILE` / `SSL_CERT_DIR` if set, else the
/// platform's store. Read once per process, on the first https request; with the errors met.
fn system_roots() -> &'static (Vec<CertificateDer<'static>>, Vec<String>) {
    static ROOTS: OnceLock<(Vec<CertificateDer<'static>>, Vec<String>)> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        let errors = found.errors.iter().map(|e| e.to_string()).collect();
        (found.certs, errors)
    })
}

/// Root certificates trusted besides the system's, in tests: the certificate authority of a
/// test's own https server. (`SSL_CERT_FILE` would do, but the environment is shared by the
/// tests running in parallel.) Only ever added to: each test makes its own authority.
#[cfg(test)]
static TEST_ROOTS: Mutex<Vec<CertificateDer<'static>>> = Mutex::new(Vec::new());

/// Trusts `ca` for the https servers of the clients made from now on in this process.
#[cfg(test)]
pub(super) fn trust_in_tests(ca: CertificateDer<'static>) {
    TEST_ROOTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(ca);
}

/// A client's TLS settings, made on its first https request.
#[derive(Default)]
struct Tls {
    config: OnceLock<Result<Arc<ClientConfig>, String>>,
}

impl Tls {
    fn config(&self) -> Result<Arc<ClientConfig>, String> {
        self.config
            .get_or_init(|| {
                let (system, errors) = system_roots();
                let mut roots = RootCertStore::empty();
                roots.add_parsable_certificates(system.iter().cloned());
                #[cfg(test)]
                roots.add_parsable_certificates(
                    TEST_ROOTS.lock().unwrap_or_else(|e| e.into_inner()).clone(),
                );
                if roots.is_empty() {
                    let why = if errors.is_empty() {
                        "none found".to_string()
                    } else {
                        errors.join("; ")
                    };
                    return Err(format!(
                        "no root certificates to check it with ({why}); SSL_CERT_FILE or SSL_CERT_DIR name them"
                    ));
                }
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let config = ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| e.to_string())?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                Ok(Arc::new(config))
            })
            .clone()
    }
}

/// The default cache directory: `$XDG_CACHE_HOME/stacklens/debuginfod`, else
/// `~/.cache/stacklens/debuginfod`.
pub fn default_cache_dir() -> Option<PathBuf> {
    Some(super::cache_root()?.join("debuginfod"))
}

impl Client {
    /// A client for `urls` caching in `cache` (else the default directory); `None` without
    /// usable servers or cache directory. Unusable URLs become warnings.
    pub fn new(urls: &[String], cache: Option<&Path>) -> Option<Self> {
        if urls.is_empty() {
            return None;
        }
        let mut warnings = Vec::new();
        let mut servers = Vec::new();
        for u in urls {
            match parse_url(u) {
                Ok(s) => servers.push((u.clone(), s)),
                Err(w) => warnings.push(w),
            }
        }
        let cache = cache.map(Path::to_path_buf).or_else(default_cache_dir);
        if cache.is_none() {
            warnings
                .push("debuginfod is off: no cache directory (set XDG_CACHE_HOME or HOME)".into());
        }
        Some(Self {
            servers: if cache.is_some() { servers } else { Vec::new() },
            cache: cache.unwrap_or_default(),
            warnings: Mutex::new(warnings),
            tls: Tls::default(),
        })
    }

    /// Warnings so far (unusable URLs, failed downloads), taken.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn warn(&self, w: String) {
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(w);
    }

    /// The cached or downloaded file of `build_id` (lowercase hex), if a server has it. The
    /// file's own build-id is checked: a server sending another file is not believed.
    pub fn fetch(&self, build_id: &str, what: Artifact) -> Option<PathBuf> {
        let valid = (2..=128).contains(&build_id.len())
            && build_id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        if !valid || self.servers.is_empty() {
            return None;
        }
        let dir = self.cache.join(build_id);
        let path = dir.join(what.name());
        if path.is_file() {
            return Some(path);
        }
        for (url, server) in &self.servers {
            let miss_key = format!("{url} {build_id} {}", what.name());
            if remembered(&UNREACHABLE, url) || remembered(&MISSES, &miss_key) {
                continue;
            }
            if let Err(e) = std::fs::create_dir_all(&dir) {
                self.warn(format!("debuginfod: cannot create {}: {e}", dir.display()));
                return None;
            }
            let tmp = temp_name(&dir, what);
            let target = format!("{}/buildid/{build_id}/{}", server.prefix, what.name());
            match download(&self.tls, server, &target, &tmp) {
                Ok(true) => {
                    let id = super::read_build_id(&tmp).map(|h| super::normalize_build_id(&h));
                    if id.as_deref() != Some(super::normalize_build_id(build_id).as_str()) {
                        let _ = std::fs::remove_file(&tmp);
                        self.warn(format!(
                            "debuginfod: {url} sent a file without build-id {build_id} for its {}; not used",
                            what.name()
                        ));
                        remember(&MISSES, miss_key);
                        continue;
                    }
                    if let Err(e) = std::fs::rename(&tmp, &path) {
                        let _ = std::fs::remove_file(&tmp);
                        self.warn(format!("debuginfod: cannot save {}: {e}", path.display()));
                        return None;
                    }
                    return Some(path);
                }
                Ok(false) => {
                    let _ = std::fs::remove_file(&tmp);
                    remember(&MISSES, miss_key);
                }
                Err(Failure::Unreachable(e)) => {
                    let _ = std::fs::remove_file(&tmp);
                    self.warn(format!(
                        "debuginfod: {url} unreachable ({e}); not asked again"
                    ));
                    remember(&UNREACHABLE, url.clone());
                }
                Err(Failure::Untrusted(e)) => {
                    let _ = std::fs::remove_file(&tmp);
                    self.warn(format!("debuginfod: {url} not used: {e}; not asked again"));
                    remember(&UNREACHABLE, url.clone());
                }
                Err(Failure::Bad(e)) => {
                    let _ = std::fs::remove_file(&tmp);
                    self.warn(format!(
                        "debuginfod: {url}: {} of {build_id} failed: {e}",
                        what.name()
                    ));
                    remember(&MISSES, miss_key);
                }
            }
        }
        None
    }
}

/// A name in `dir` no other download uses.
fn temp_name(dir: &Path, what: Artifact) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".{}.{}.{n}.tmp", what.name(), std::process::id()))
}

enum Failure {
    /// No connection, or no answer in time: the server is not asked again.
    Unreachable(String),
    /// A certificate that is not trusted: the server is not asked again either.
    Untrusted(String),
    /// A broken answer for this one file.
    Bad(String),
}

/// GETs `target` from `server` into `dest`, following redirects (to http or https). `Ok(false)`:
/// not found.
fn download(tls: &Tls, server: &Server, target: &str, dest: &Path) -> Result<bool, Failure> {
    let mut server = server.clone();
    let mut target = target.to_string();
    for _ in 0..=MAX_REDIRECTS {
        match get(tls, &server, &target, dest)? {
            Response::Saved => return Ok(true),
            Response::NotFound => return Ok(false),
            Response::Redirect(mut location) => {
                if location.starts_with("//") {
                    // Scheme-relative.
                    location.insert_str(0, if server.tls { "https:" } else { "http:" });
                }
                if location.starts_with('/') {
                    target = location.split('#').next().unwrap_or_default().to_string();
                } else {
                    let (s, path) = split_url(&location).map_err(Failure::Bad)?;
                    target = if path.is_empty() {
                        "/".into()
                    } else {
                        path.to_string()
                    };
                    server = s;
                }
            }
        }
    }
    Err(Failure::Bad("too many redirects".into()))
}

enum Response {
    Saved,
    NotFound,
    Redirect(String),
}

/// A connection to a server: plain, or TLS over the same kind of stream.
enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            Self::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(s) => s.write(buf),
            Self::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Plain(s) => s.flush(),
            Self::Tls(s) => s.flush(),
        }
    }
}

/// Connects to `server`; for https, also the TLS handshake, which checks the certificate.
fn open(tls: &Tls, server: &Server) -> Result<Conn, Failure> {
    let mut tcp = connect(server)?;
    if !server.tls {
        return Ok(Conn::Plain(tcp));
    }
    let host = &server.host;
    let untrusted =
        |why: &str| Failure::Untrusted(format!("certificate of {host} not trusted: {why}"));
    let config = tls.config().map_err(|e| untrusted(&e))?;
    let name = ServerName::try_from(host.clone())
        .map_err(|_| Failure::Bad(format!("{host:?} is not a server name TLS can check")))?;
    let mut conn = ClientConnection::new(config, name)
        .map_err(|e| Failure::Unreachable(format!("TLS with {host}: {e}")))?;
    while conn.is_handshaking() {
        match conn.complete_io(&mut tcp) {
            Ok((0, 0)) => {
                return Err(Failure::Unreachable(format!(
                    "TLS handshake with {host} stalled"
                )));
            }
            Ok(_) => {}
            Err(e) => {
                return Err(
                    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                        Some(rustls::Error::InvalidCertificate(
                            CertificateError::UnknownIssuer,
                        )) => untrusted(
                            "issued by an authority that is not among the system's root certificates \
                                 (SSL_CERT_FILE or SSL_CERT_DIR name others)",
                        ),
                        Some(rustls::Error::InvalidCertificate(c)) => untrusted(&c.to_string()),
                        Some(other) => {
                            Failure::Unreachable(format!("TLS handshake with {host}: {other}"))
                        }
                        None => Failure::Unreachable(format!("TLS handshake with {host}: {e}")),
                    },
                );
            }
        }
    }
    Ok(Conn::Tls(Box::new(StreamOwned::new(conn, tcp))))
}

fn connect(server: &Server) -> Result<TcpStream, Failure> {
    let addrs = (server.host.as_str(), server.port)
        .to_socket_addrs()
        .map_err(|e| Failure::Unreachable(e.to_string()))?;
    let mut last = String::from("no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, TIMEOUT) {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(TIMEOUT));
                let _ = s.set_write_timeout(Some(TIMEOUT));
                return Ok(s);
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(Failure::Unreachable(last))
}

/// One request and its response; a 200 body goes to `dest`.
fn get(tls: &Tls, server: &Server, target: &str, dest: &Path) -> Result<Response, Failure> {
    let mut stream = open(tls, server)?;
    let host = if server.host.contains(':') {
        format!("[{}]", server.host) // an IPv6 address
    } else {
        server.host.clone()
    };
    let host = if server.port == if server.tls { 443 } else { 80 } {
        host
    } else {
        format!("{host}:{}", server.port)
    };
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: stacklens/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.flush())
        .map_err(|e| Failure::Unreachable(e.to_string()))?;
    let mut r = BufReader::new(stream);
    let head = read_head(&mut r).map_err(|e| match e {
        HeadError::Io(e) => Failure::Unreachable(e),
        HeadError::Bad(e) => Failure::Bad(e),
    })?;
    match head.status {
        200 => {}
        404 => return Ok(Response::NotFound),
        301 | 302 | 303 | 307 | 308 => {
            return match head.location {
                Some(l) => Ok(Response::Redirect(l)),
                None => Err(Failure::Bad(format!(
                    "redirect {} without Location",
                    head.status
                ))),
            };
        }
        s => return Err(Failure::Bad(format!("HTTP status {s}"))),
    }
    let mut file = std::fs::File::create(dest).map_err(|e| Failure::Bad(e.to_string()))?;
    let bad = |e: std::io::Error| Failure::Bad(e.to_string());
    if head.chunked {
        copy_chunked(&mut r, &mut file, MAX_DOWNLOAD_BYTES).map_err(bad)?;
    } else if let Some(n) = head.content_length {
        if n > MAX_DOWNLOAD_BYTES {
            return Err(Failure::Bad(format!(
                "{n} bytes is more than the {MAX_DOWNLOAD_BYTES} allowed"
            )));
        }
        let copied = std::io::copy(&mut (&mut r).take(n), &mut file).map_err(bad)?;
        if copied != n {
            return Err(Failure::Bad(format!(
                "body ended after {copied} of {n} bytes"
            )));
        }
    } else {
        // No length: the body runs to the end of the connection.
        let copied =
            std::io::copy(&mut (&mut r).take(MAX_DOWNLOAD_BYTES + 1), &mut file).map_err(bad)?;
        if copied > MAX_DOWNLOAD_BYTES {
            return Err(Failure::Bad("body too large".into()));
        }
    }
    file.sync_all().map_err(bad)?;
    Ok(Response::Saved)
}

#[derive(Debug, Default)]
struct Head {
    status: u16,
    content_length: Option<u64>,
    chunked: bool,
    location: Option<String>,
}

enum HeadError {
    Io(String),
    Bad(String),
}

/// One CRLF- (or LF-) terminated line, without its terminator; at most `max` bytes.
fn read_line(r: &mut impl BufRead, max: usize) -> std::io::Result<String> {
    let mut buf = Vec::new();
    let n = r.take(max as u64 + 1).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    if buf.last() != Some(&b'\n') {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "line too long",
        ));
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn read_head(r: &mut impl BufRead) -> Result<Head, HeadError> {
    let mut budget = MAX_HEAD_BYTES;
    let mut line = || -> Result<String, HeadError> {
        let l = read_line(r, budget).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => HeadError::Bad("response head too long".into()),
            _ => HeadError::Io(e.to_string()),
        })?;
        budget = budget.saturating_sub(l.len() + 2);
        Ok(l)
    };
    let status_line = line()?;
    let mut parts = status_line.split_ascii_whitespace();
    let status = match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") => code
            .parse::<u16>()
            .map_err(|_| HeadError::Bad(format!("bad status line {status_line:?}")))?,
        _ => return Err(HeadError::Bad(format!("not HTTP: {status_line:?}"))),
    };
    let mut head = Head {
        status,
        ..Head::default()
    };
    loop {
        let l = line()?;
        if l.is_empty() {
            break;
        }
        let Some((name, value)) = l.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                head.content_length = Some(
                    value
                        .parse()
                        .map_err(|_| HeadError::Bad(format!("bad Content-Length {value:?}")))?,
                );
            }
            "transfer-encoding" => {
                head.chunked = value
                    .to_ascii_lowercase()
                    .split(',')
                    .any(|t| t.trim() == "chunked");
            }
            "location" => head.location = Some(value.to_string()),
            _ => {}
        }
    }
    Ok(head)
}

/// Copies a chunked body to `out`, at most `cap` bytes of content.
fn copy_chunked(r: &mut impl BufRead, out: &mut impl Write, cap: u64) -> std::io::Result<u64> {
    let invalid = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let mut total = 0u64;
    loop {
        let line = read_line(r, 1024)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            // Trailer fields, up to the empty line.
            for _ in 0..100 {
                if read_line(r, 8192)?.is_empty() {
                    return Ok(total);
                }
            }
            return Err(invalid("too many trailer fields"));
        }
        total = total
            .checked_add(size)
            .filter(|&t| t <= cap)
            .ok_or_else(|| invalid("body too large"))?;
        let copied = std::io::copy(&mut r.take(size), out)?;
        if copied != size {
            return Err(invalid("body ends inside a chunk"));
        }
        if !read_line(r, 2)?.is_empty() {
            return Err(invalid("chunk not followed by CRLF"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://example.org:8002/").unwrap(),
            Server {
                tls: false,
                host: "example.org".into(),
                port: 8002,
                prefix: String::new()
            }
        );
        assert_eq!(
            parse_url("http://127.0.0.1/debuginfod/").unwrap(),
            Server {
                tls: false,
                host: "127.0.0.1".into(),
                port: 80,
                prefix: "/debuginfod".into()
            }
        );
        assert_eq!(parse_url("http://[::1]:9/").unwrap().host, "::1");
        assert_eq!(
            parse_url("https://debuginfod.elfutils.org/").unwrap(),
            Server {
                tls: true,
                host: "debuginfod.elfutils.org".into(),
                port: 443,
                prefix: String::new()
            }
        );
        let (s, path) = split_url("https://[::1]:8443/buildid/ab/debuginfo#x").unwrap();
        assert_eq!((s.tls, s.port, path), (true, 8443, "/buildid/ab/debuginfo"));
        assert!(
            parse_url("ftp://x/")
                .unwrap_err()
                .contains("not an http:// or https:// URL")
        );
        assert!(parse_url("http://x:port/").is_err());
    }

    #[test]
    fn chunked_bodies() {
        let body = b"4\r\nWiki\r\n6;ext=1\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\n";
        let mut out = Vec::new();
        let n = copy_chunked(&mut &body[..], &mut out, 1000).unwrap();
        assert_eq!(out, b"Wikipedia in \r\n\r\nchunks.");
        assert_eq!(n, out.len() as u64);
        // Over the cap, truncated, garbage: errors, no panic.
        assert!(copy_chunked(&mut &body[..], &mut Vec::new(), 10).is_err());
        for cut in 0..body.len() - 2 {
            assert!(
                copy_chunked(&mut &body[..cut], &mut Vec::new(), 1000).is_err(),
                "{cut}"
            );
        }
        assert!(copy_chunked(&mut &b"ffffffffffffffffff\r\n"[..], &mut Vec::new(), 1000).is_err());
    }

    #[test]
    fn response_heads() {
        let mut r = &b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nTransfer-Encoding: gzip, chunked\r\n\r\nrest"[..];
        let h = read_head(&mut r).ok().unwrap();
        assert_eq!(
            (h.status, h.content_length, h.chunked),
            (200, Some(12), true)
        );
        assert_eq!(r, b"rest");
        let mut r = &b"HTTP/1.0 302 Found\nLocation: http://other:1/x\n\n"[..];
        let h = read_head(&mut r).ok().unwrap();
        assert_eq!(
            (h.status, h.location.as_deref()),
            (302, Some("http://other:1/x"))
        );
        assert!(read_head(&mut &b"SSH-2.0-OpenSSH\r\n\r\n"[..]).is_err());
        let huge = format!(
            "HTTP/1.1 200 OK\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_HEAD_BYTES)
        );
        assert!(matches!(
            read_head(&mut huge.as_bytes()),
            Err(HeadError::Bad(_))
        ));
    }
}
