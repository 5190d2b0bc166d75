//! Loading a profile on a worker thread, with progress and cancel.

use super::document::Loaded;
use stacklens_core::model::Profile;
use stacklens_core::{LoadOptions, Progress, load};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Instant;

/// Loads also ask the debuginfod servers of `DEBUGINFOD_URLS` for binaries and debug files not
/// found locally (View ▸ Fetch symbols with debuginfod, or `--debuginfod`).
pub static DEBUGINFOD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// What to open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadRequest {
    pub path: PathBuf,
    /// Tab title.
    pub title: String,
    /// Extra directories searched for binaries.
    pub symbol_dirs: Vec<PathBuf>,
    /// Add the file to the recent list once it loaded.
    pub remember: bool,
}

impl LoadRequest {
    /// Opens `path`, looking for binaries beside it (and in a `bin/` folder beside it) as well
    /// as in `symbol_dirs`.
    pub fn file(path: PathBuf, symbol_dirs: &[PathBuf]) -> Self {
        let title = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let mut dirs = symbol_dirs.to_vec();
        if let Some(parent) = path.parent() {
            let parent = if parent.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                parent.to_path_buf()
            };
            dirs.push(parent.join("bin"));
            dirs.push(parent);
        }
        LoadRequest {
            path,
            title,
            symbol_dirs: dirs,
            remember: true,
        }
    }
}

/// A load in progress.
pub struct LoadJob {
    pub request: LoadRequest,
    pub progress: Arc<Progress>,
    pub started: Instant,
    /// Size of the file, for "34 MB of 100 MB".
    pub file_size: u64,
    rx: mpsc::Receiver<Result<Loaded, String>>,
}

impl LoadJob {
    /// Starts loading on a new thread; `ctx` is asked to repaint when it ends.
    pub fn start(request: LoadRequest, ctx: &egui::Context) -> Self {
        let progress = Arc::new(Progress::new());
        let (tx, rx) = mpsc::channel();
        let file_size = std::fs::metadata(&request.path).map_or(0, |m| m.len());
        let (req, prog, ctx2, tx2) = (request.clone(), progress.clone(), ctx.clone(), tx.clone());
        let spawned = std::thread::Builder::new()
            .name("stacklens-load".into())
            .spawn(move || {
                let mut opts = LoadOptions::default();
                opts.symbols.search_dirs = req.symbol_dirs.clone();
                if DEBUGINFOD.load(std::sync::atomic::Ordering::Relaxed) {
                    opts.symbols = opts.symbols.with_debuginfod_from_env();
                }
                let result = load(&req.path, &opts, &prog)
                    .map(Loaded::prepare)
                    .map_err(|e| e.to_string());
                let _ = tx2.send(result);
                ctx2.request_repaint();
            });
        if let Err(e) = spawned {
            // Reported by the next poll, like any failed load.
            let _ = tx.send(Err(format!("cannot start a loading thread: {e}")));
        }
        LoadJob {
            request,
            progress,
            started: Instant::now(),
            file_size,
            rx,
        }
    }

    /// Prepares a profile that is already loaded (another tab's) on a new thread: its call
    /// nodes and first analysis.
    pub fn shared(request: LoadRequest, profile: Arc<Profile>, ctx: &egui::Context) -> Self {
        let progress = Arc::new(Progress::new());
        let (tx, rx) = mpsc::channel();
        let ctx2 = ctx.clone();
        let tx2 = tx.clone();
        let spawned = std::thread::Builder::new()
            .name("stacklens-prepare".into())
            .spawn(move || {
                let _ = tx2.send(Ok(Loaded::prepare_shared(profile)));
                ctx2.request_repaint();
            });
        if let Err(e) = spawned {
            let _ = tx.send(Err(format!("cannot start a thread: {e}")));
        }
        LoadJob {
            request,
            progress,
            started: Instant::now(),
            file_size: 0,
            rx,
        }
    }

    /// The result, once the load has ended.
    pub fn poll(&self) -> Option<Result<Loaded, String>> {
        match self.rx.try_recv() {
            Ok(r) => Some(r),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => {
                Some(Err("the loading thread stopped unexpectedly".into()))
            }
        }
    }

    /// Asks the loader to stop; it ends with "cancelled" soon after.
    pub fn cancel(&self) {
        self.progress.cancel();
    }
}
