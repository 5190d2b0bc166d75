//! A value computed on a worker thread for a key, kept until a value for a newer key arrives.
//!
//! Views ask for the value of their current key every frame; a new key starts one job (rayon),
//! and the view keeps drawing the previous value until the new one is ready, so the frame never
//! waits for a computation.

use std::sync::{Arc, mpsc};

pub struct Derived<K, V> {
    shown: Option<(K, Arc<V>)>,
    pending: Option<(K, mpsc::Receiver<V>)>,
}

impl<K, V> Default for Derived<K, V> {
    fn default() -> Self {
        Derived {
            shown: None,
            pending: None,
        }
    }
}

impl<K: PartialEq + Clone, V: Send + 'static> Derived<K, V> {
    /// The latest value (perhaps for an older key); starts `compute` on a worker when `key` is
    /// neither shown nor being computed.
    pub fn get(
        &mut self,
        key: &K,
        ctx: &egui::Context,
        compute: impl FnOnce() -> V + Send + 'static,
    ) -> Option<Arc<V>> {
        self.poll();
        let shown = self.shown.as_ref().is_some_and(|(k, _)| k == key);
        let pending = self.pending.as_ref().is_some_and(|(k, _)| k == key);
        if !shown && !pending {
            let (tx, rx) = mpsc::channel();
            let ctx = ctx.clone();
            rayon::spawn(move || {
                // The receiver is gone when a newer key replaced this job.
                let _ = tx.send(compute());
                ctx.request_repaint();
            });
            self.pending = Some((key.clone(), rx));
        }
        self.shown.as_ref().map(|(_, v)| v.clone())
    }

    /// Is the shown value for `key`.
    pub fn is_current(&self, key: &K) -> bool {
        self.shown.as_ref().is_some_and(|(k, _)| k == key)
    }

    /// The value shown, whatever its key.
    pub fn latest(&self) -> Option<&Arc<V>> {
        self.shown.as_ref().map(|(_, v)| v)
    }

    /// Is a job running.
    pub fn is_computing(&self) -> bool {
        self.pending.is_some()
    }

    /// Takes a finished job's value (called by `get`, and every frame by the document so an
    /// unseen view's job does not look busy forever).
    pub fn poll(&mut self) {
        if let Some((k, rx)) = &self.pending {
            match rx.try_recv() {
                Ok(v) => {
                    self.shown = Some((k.clone(), Arc::new(v)));
                    self.pending = None;
                }
                Err(mpsc::TryRecvError::Empty) => {}
                Err(mpsc::TryRecvError::Disconnected) => self.pending = None,
            }
        }
    }
}
