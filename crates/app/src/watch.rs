//! Watching the library root (SPEC §1): what changes on disk is rescanned
//! after a quiet period, folder by folder, through the same scan use case
//! as a scan someone starts. The watcher only says where to look; the
//! scan decides what changed, so an event never marks a file missing.
//!
//! Events come from the operating system (inotify on Linux) through the
//! `notify` crate, or, where a file system does not deliver them (NFS,
//! SMB), from polling. A lost event (the queue overflowed) becomes a scan
//! of the whole library, and a periodic full scan catches anything else.

use crate::context::App;
use crate::error::AppError;
use crate::events::Actor;
use lectern_core::watch::{Area, Pending};
use lectern_core::LibraryPath;
use lectern_scanner::ScanScope;
use notify::event::{EventKind, MetadataKind, ModifyKind};
use notify::{RecursiveMode, Watcher as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Who watched scans are started by; their history records are of kind
/// `watch`.
pub const WATCHER: &str = "system:watcher";
/// Who the periodic full scans are started by (kind `full`).
pub const PERIODIC: &str = "system:periodic-scan";

/// How often the watcher looks whether the root is still the folder it
/// watches (unmounted, renamed away, or another root saved).
const RECHECK: Duration = Duration::from_secs(1);
/// How long a change may wait while more keep coming: a copy that lasts
/// minutes is still scanned now and then, not only at its end.
const QUIET_TIMES_AT_MOST: u32 = 30;

/// How the library is watched (`[watch] mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WatchMode {
    /// Events where the file system delivers them, polling where it is
    /// known not to (network file systems).
    #[default]
    Auto,
    Events,
    Poll,
    Off,
}

lectern_core::text_enum!(WatchMode {
    Auto => "auto",
    Events => "events",
    Poll => "poll",
    Off => "off",
});

/// `[watch]` in the configuration.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    pub mode: WatchMode,
    /// How long the library must be still before its changes are scanned.
    pub quiet: Duration,
    /// How often a polled library is looked at.
    pub poll_interval: Duration,
    /// A full scan this often, whatever events said; `None`: never.
    pub full_scan_every: Option<Duration>,
    /// Changes waiting to be read; beyond that they are lost and the
    /// whole library is scanned instead.
    pub queue: usize,
    /// Whether the library may have changed unseen before the watching
    /// starts (it was scanned before, and Lectern was not running since):
    /// the first thing watched is then a scan of the whole library.
    pub catch_up: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            mode: WatchMode::Auto,
            quiet: Duration::from_secs(2),
            poll_interval: Duration::from_secs(300),
            full_scan_every: Some(Duration::from_secs(6 * 3600)),
            queue: 65_536,
            catch_up: false,
        }
    }
}

/// What the watcher is doing, for the health checks and the panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchState {
    /// Not watching: switched off, or nothing runs a watcher (the command
    /// line).
    Off,
    Starting,
    /// No library root is set.
    NoRoot,
    /// The operating system reports changes.
    Events,
    /// The library is looked at every `every`, for the reason given.
    Polling {
        every: Duration,
        why: String,
    },
    /// The root is gone (unmounted?); watching resumes when it is back.
    RootMissing(String),
    /// Watching could not start; it is tried again.
    Failed(String),
}

impl WatchState {
    /// The state's one-word name (`observedValue` of `watcher:state`).
    pub fn name(&self) -> &'static str {
        match self {
            WatchState::Off => "off",
            WatchState::Starting => "starting",
            WatchState::NoRoot => "no_root",
            WatchState::Events => "events",
            WatchState::Polling { .. } => "polling",
            WatchState::RootMissing(_) => "root_missing",
            WatchState::Failed(_) => "failed",
        }
    }

    /// The state in words.
    pub fn describe(&self) -> String {
        match self {
            WatchState::Off => "off: changes on disk appear after a scan".into(),
            WatchState::Starting => "starting".into(),
            WatchState::NoRoot => "waiting for a library root to be set".into(),
            WatchState::Events => "watching: changes are scanned as they happen".into(),
            WatchState::Polling { every, why } => format!(
                "polling every {} ({why})",
                lectern_core::quantity::span(every.as_secs())
            ),
            WatchState::RootMissing(why) => {
                format!("waiting for the library root to come back: {why}")
            }
            WatchState::Failed(why) => format!("watching failed: {why}"),
        }
    }
}

/// The watcher's state, shared with whoever reports it.
#[derive(Debug)]
pub struct Watching {
    state: Mutex<WatchState>,
}

impl Default for Watching {
    fn default() -> Self {
        Watching {
            state: Mutex::new(WatchState::Off),
        }
    }
}

impl Watching {
    pub fn state(&self) -> WatchState {
        self.state
            .lock()
            .map_or(WatchState::Off, |state| state.clone())
    }

    fn set(&self, new: WatchState) {
        if let Ok(mut state) = self.state.lock() {
            if *state != new {
                tracing::info!("watching the library: {}", new.describe());
                *state = new;
            }
        }
    }
}

/// Watches the library until the process ends, and runs the periodic
/// full scan.
pub async fn run(app: App, options: WatchOptions) {
    if let Some(every) = options.full_scan_every {
        tokio::spawn(periodic(app.clone(), every));
    }
    if options.mode == WatchMode::Off {
        app.watching.set(WatchState::Off);
        return;
    }
    app.watching.set(WatchState::Starting);
    let mut pending = Pending::default();
    let mut unseen = options.catch_up;
    loop {
        let Some(root) = wait_for_root(&app).await else {
            tokio::time::sleep(RECHECK).await;
            continue;
        };
        let session = match Session::open(&root, &options).await {
            Ok(session) => session,
            Err(why) => {
                app.watching.set(WatchState::Failed(why));
                tokio::time::sleep(RECHECK * 10).await;
                continue;
            }
        };
        app.watching.set(session.state.clone());
        // What changed while nothing watched (Lectern was stopped, the
        // root was away, or this is another root) is only known to a scan
        // of everything.
        if unseen {
            pending = Pending::default();
            pending.add(Area::Library);
        }
        unseen = true;
        pending = session.follow(&app, &options, pending).await;
    }
}

/// The root, once it is set and reachable; `None` (after saying why in
/// the state) when it is not.
async fn wait_for_root(app: &App) -> Option<PathBuf> {
    let root = match app.library_root().await {
        Ok(Some(root)) => root,
        Ok(None) => {
            app.watching.set(WatchState::NoRoot);
            return None;
        }
        Err(e) => {
            app.watching
                .set(WatchState::Failed(format!("cannot read the root: {e}")));
            return None;
        }
    };
    match identity(&root) {
        Some(_) => Some(root),
        None => {
            let why = format!("{} is not a reachable folder", root.display());
            app.watching.set(WatchState::RootMissing(why));
            None
        }
    }
}

/// Which folder a path is: its device and inode, so that a root renamed
/// away and another put in its place is not taken for the same.
#[cfg(unix)]
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    meta.is_dir().then(|| (meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok()?.is_dir().then_some((0, 0))
}

/// What the operating system's watcher hands over.
enum Note {
    Path(PathBuf),
    Error(String),
}

/// One root being watched: the watcher, and the queue it fills.
struct Session {
    root: PathBuf,
    identity: Option<(u64, u64)>,
    state: WatchState,
    notes: mpsc::Receiver<Note>,
    /// Set when changes were lost: the queue was full, or the operating
    /// system's own queue overflowed.
    lost: Arc<AtomicBool>,
    /// Held, never used: dropping it stops the watching. (A mutex only so
    /// that the session can be shared across awaits.)
    _watcher: Mutex<Box<dyn notify::Watcher + Send>>,
}

impl Session {
    async fn open(root: &Path, options: &WatchOptions) -> Result<Session, String> {
        let (tx, notes) = mpsc::channel(options.queue.max(1));
        let lost = Arc::new(AtomicBool::new(false));
        let handler = Handler {
            tx,
            lost: lost.clone(),
        };
        let (root, options) = (root.to_owned(), options.clone());
        let opened = tokio::task::spawn_blocking(move || {
            let (watcher, state) = start_watcher(&root, &options, handler)?;
            Ok::<_, String>((root, watcher, state))
        })
        .await
        .map_err(|e| format!("the watcher stopped: {e}"))?;
        let (root, watcher, state) = opened?;
        Ok(Session {
            identity: identity(&root),
            root,
            state,
            notes,
            lost,
            _watcher: Mutex::new(watcher),
        })
    }

    /// Follows the changes, scanning as they settle, until the root is no
    /// longer this folder; returns what was still waiting.
    async fn follow(mut self, app: &App, options: &WatchOptions, mut pending: Pending) -> Pending {
        let mut due = (!pending.is_empty()).then(|| Instant::now() + options.quiet);
        let mut first: Option<Instant> = due;
        let mut scanning: Option<tokio::task::JoinHandle<Pending>> = None;
        let mut recheck = tokio::time::interval(RECHECK);
        loop {
            let ready = due.filter(|_| scanning.is_none());
            tokio::select! {
                note = self.notes.recv() => {
                    let Some(note) = note else { return pending };
                    if self.take(note, &mut pending) {
                        let now = Instant::now();
                        let first = *first.get_or_insert(now);
                        due = Some((now + options.quiet).min(first + options.quiet * QUIET_TIMES_AT_MOST));
                    }
                }
                () = sleep_until(ready) => {
                    if self.lost.swap(false, Ordering::SeqCst) {
                        pending.add(Area::Library);
                    }
                    let work = pending.take();
                    let (app, root) = (app.clone(), self.root.clone());
                    scanning = Some(tokio::spawn(async move { scan(&app, &root, work).await }));
                    due = None;
                    first = None;
                }
                left = finished(&mut scanning) => {
                    scanning = None;
                    if !left.is_empty() {
                        // Another operation held the lock: try again soon.
                        pending.merge(left);
                        due = Some(Instant::now() + options.quiet.max(RECHECK));
                    } else if !pending.is_empty() {
                        due = Some(Instant::now() + options.quiet);
                    }
                }
                _ = recheck.tick() => {
                    if self.lost.load(Ordering::SeqCst) && due.is_none() {
                        due = Some(Instant::now() + options.quiet);
                    }
                    if !self.still_the_root(app).await {
                        if let Some(scan) = scanning.take() {
                            pending.merge(scan.await.unwrap_or_default());
                        }
                        return pending;
                    }
                }
            }
        }
    }

    /// Adds what a note touches to `pending`; whether it touched anything.
    fn take(&self, note: Note, pending: &mut Pending) -> bool {
        match note {
            Note::Path(path) => match area(&self.root, &path) {
                Some(area) => {
                    pending.add(area);
                    true
                }
                None => false,
            },
            Note::Error(why) => {
                tracing::warn!("watching the library: {why}");
                false
            }
        }
    }

    async fn still_the_root(&self, app: &App) -> bool {
        let same_setting = match app.library_root().await {
            Ok(root) => root.as_deref() == Some(self.root.as_path()),
            // The database is busy or being restored: the root is as it was.
            Err(_) => true,
        };
        same_setting && identity(&self.root) == self.identity
    }
}

async fn sleep_until(when: Option<Instant>) {
    match when {
        Some(when) => tokio::time::sleep_until(when).await,
        None => std::future::pending().await,
    }
}

/// What the running watched scans left undone, when they end.
async fn finished(scanning: &mut Option<tokio::task::JoinHandle<Pending>>) -> Pending {
    match scanning {
        Some(task) => task.await.unwrap_or_default(),
        None => std::future::pending().await,
    }
}

/// Starts the operating system's watcher, or polling, as the mode and the
/// root's file system say.
fn start_watcher(
    root: &Path,
    options: &WatchOptions,
    handler: Handler,
) -> Result<(Box<dyn notify::Watcher + Send>, WatchState), String> {
    let polling = |why: String| WatchState::Polling {
        every: options.poll_interval,
        why,
    };
    let remote = remote_file_system(root);
    let poll_because = match (options.mode, remote) {
        (WatchMode::Poll, _) => Some("set by the configuration".to_owned()),
        (WatchMode::Auto, Some(kind)) => Some(format!("{kind} does not report changes")),
        _ => None,
    };
    if let Some(why) = poll_because {
        let watcher = poll(root, options, handler)?;
        return Ok((watcher, polling(why)));
    }
    let fallback = handler.clone();
    match events(root, handler) {
        Ok(watcher) => Ok((watcher, WatchState::Events)),
        // No more inotify watches or instances: polling still works.
        Err(e) if options.mode == WatchMode::Auto => {
            let why = format!("events are unavailable: {e}");
            Ok((poll(root, options, fallback)?, polling(why)))
        }
        Err(e) => Err(e),
    }
}

fn events(root: &Path, handler: Handler) -> Result<Box<dyn notify::Watcher + Send>, String> {
    let mut watcher = notify::recommended_watcher(handler).map_err(|e| e.to_string())?;
    watcher
        .watch(root, RecursiveMode::Recursive)
        .map_err(|e| e.to_string())?;
    Ok(Box::new(watcher))
}

fn poll(
    root: &Path,
    options: &WatchOptions,
    handler: Handler,
) -> Result<Box<dyn notify::Watcher + Send>, String> {
    let config = notify::Config::default().with_poll_interval(options.poll_interval);
    let mut watcher = notify::PollWatcher::new(handler, config).map_err(|e| e.to_string())?;
    watcher
        .watch(root, RecursiveMode::Recursive)
        .map_err(|e| e.to_string())?;
    Ok(Box::new(watcher))
}

/// Takes the watcher's events on its own thread: never blocks it, and
/// says so when a change had to be dropped.
#[derive(Clone)]
struct Handler {
    tx: mpsc::Sender<Note>,
    lost: Arc<AtomicBool>,
}

impl notify::EventHandler for Handler {
    fn handle_event(&mut self, event: notify::Result<notify::Event>) {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                if self.tx.try_send(Note::Error(e.to_string())).is_err() {
                    self.lost.store(true, Ordering::SeqCst);
                }
                return;
            }
        };
        if event.need_rescan() {
            self.lost.store(true, Ordering::SeqCst);
            return;
        }
        if !changes_content(&event.kind) {
            return;
        }
        for path in event.paths {
            if self.tx.try_send(Note::Path(path)).is_err() {
                self.lost.store(true, Ordering::SeqCst);
            }
        }
    }
}

/// Reading a file (the scan's own hashing does) changes nothing.
fn changes_content(kind: &EventKind) -> bool {
    !matches!(
        kind,
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime))
    )
}

/// The area a changed path touches, or `None` for what no scan indexes:
/// a path outside the root, a hidden name, a loose file at the top two
/// levels (which belongs to no course).
fn area(root: &Path, path: &Path) -> Option<Area> {
    let relative = path.strip_prefix(root).ok()?;
    if relative.as_os_str().is_empty() {
        return None;
    }
    let library_path = LibraryPath::from_relative(relative).ok()?;
    if library_path.depth() <= 2 && std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) {
        return None;
    }
    Area::of(&library_path)
}

/// Runs the scans that cover `pending`, one after another; returns what
/// could not start yet.
async fn scan(app: &App, root: &Path, pending: Pending) -> Pending {
    let mut areas = Vec::new();
    for area in pending.plan() {
        areas.push(widen(app, root, area).await);
    }
    let mut settled = Pending::default();
    areas.into_iter().for_each(|a| settled.add(a));
    let plan = settled.plan();
    let by = Actor::System(WATCHER);
    for (i, area) in plan.iter().enumerate() {
        let Some(scope) = scope(app, area).await else {
            continue;
        };
        match crate::scans::begin(app, &by, scope, false, false).await {
            Ok(started) => {
                started.run().await;
            }
            // Not now (another operation, a restore, the database
            // away): kept for later, never dropped.
            Err(AppError::Busy(_) | AppError::Maintenance(_) | AppError::Internal { .. }) => {
                let mut left = Pending::default();
                plan[i..].iter().cloned().for_each(|a| left.add(a));
                return left;
            }
            Err(e) => tracing::warn!("a watched scan could not start: {e}"),
        }
    }
    Pending::default()
}

/// The area a scan can cover as it is now on disk: a course folder that
/// vanished, or one the index does not know, is its category's business
/// (so that a rename is seen whole); a category folder that vanished is
/// the library's.
async fn widen(app: &App, root: &Path, area: Area) -> Area {
    if let Area::Course(course) = &area {
        let known = matches!(app.store.course_by_path(course).await, Ok(Some(_)));
        if known && course.to_path(root).is_dir() {
            return area;
        }
    }
    match area.category() {
        Some(category) if category.to_path(root).is_dir() => Area::Category(category),
        _ => Area::Library,
    }
}

async fn scope(app: &App, area: &Area) -> Option<ScanScope> {
    Some(match area {
        Area::Library => ScanScope::All,
        Area::Category(path) => ScanScope::Category(path.clone()),
        Area::Course(path) => match app.store.course_by_path(path).await {
            Ok(Some(course)) => ScanScope::Course(course.id),
            Ok(None) => ScanScope::Category(path.prefix(1)?),
            Err(e) => {
                tracing::warn!("a watched scan could not find {}: {e}", path.display());
                return None;
            }
        },
    })
}

/// The full scan every `every`, started like a manual one; when another
/// operation holds the lock it waits for it.
async fn periodic(app: App, every: Duration) {
    let by = Actor::System(PERIODIC);
    loop {
        tokio::time::sleep(every).await;
        loop {
            match crate::scans::begin(&app, &by, ScanScope::All, false, false).await {
                Ok(started) => {
                    started.run().await;
                    break;
                }
                Err(AppError::Busy(_)) => tokio::time::sleep(RECHECK).await,
                Err(e) => {
                    tracing::warn!("the periodic full scan could not start: {e}");
                    break;
                }
            }
        }
    }
}

/// The kind of a file system known not to report changes to watchers
/// (network and user-space file systems), by its `statfs` magic number.
#[cfg(target_os = "linux")]
fn remote_file_system(root: &Path) -> Option<&'static str> {
    const REMOTE: [(i64, &str); 9] = [
        (0x6969, "NFS"),
        (0x517B, "SMB"),
        (0xFF53_4D42, "CIFS"),
        (0xFE53_4D42, "SMB2"),
        (0x6573_5546, "a FUSE file system"),
        (0x0102_1997, "9P"),
        (0x00C3_6400, "Ceph"),
        (0x5346_414F, "AFS"),
        (0x7375_7245, "Coda"),
    ];
    let stats = rustix::fs::statfs(root).ok()?;
    #[allow(clippy::unnecessary_cast)]
    let magic = stats.f_type as i64;
    REMOTE
        .iter()
        .find(|(m, _)| *m == magic)
        .map(|(_, name)| *name)
}

#[cfg(not(target_os = "linux"))]
fn remote_file_system(_root: &Path) -> Option<&'static str> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_a_file_is_not_a_change() {
        use notify::event::{AccessKind, CreateKind};
        assert!(!changes_content(&EventKind::Access(AccessKind::Any)));
        assert!(!changes_content(&EventKind::Modify(ModifyKind::Metadata(
            MetadataKind::AccessTime
        ))));
        assert!(changes_content(&EventKind::Create(CreateKind::File)));
        assert!(changes_content(&EventKind::Modify(ModifyKind::Any)));
    }

    #[test]
    fn loose_files_and_paths_outside_touch_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("Cat/Course")).unwrap();
        std::fs::write(root.join("Cat/notes.txt"), "x").unwrap();
        assert_eq!(area(root, &root.join("Cat/notes.txt")), None);
        assert_eq!(area(root, root), None);
        assert_eq!(area(root, Path::new("/elsewhere/a")), None);
        let course = LibraryPath::parse("Cat/Course").unwrap();
        assert_eq!(
            area(root, &root.join("Cat/Course/a.pdf")),
            Some(Area::Course(course))
        );
    }
}
