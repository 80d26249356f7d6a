use crate::background;
use crate::classify::Kind;
use crate::hash::{hash_all, HashError, Hashed};
use crate::plan::{plan, HashJob, Moves};
use crate::walk::walk;
use crate::ScanError;
use lectern_core::identity::{self, Decision};
use lectern_core::progress::{Phase, ScanProgress};
use lectern_core::scan::{IssueKind, ScanCounts, ScanIssue, ScanKind, ScanStatus};
use lectern_core::{CategoryId, CourseId, FileId, LibraryPath, ScanId};
use lectern_store::lock::LockHandle;
use lectern_store::{
    ChangeBatch, FileChange, FileFacts, FileRole, FileState, KnownFile, NewFile, NewScan, Scope,
    Store, StoreError,
};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

/// Files per transaction: short enough that a kill loses little and other
/// writers wait little, long enough that commits do not dominate.
const BATCH: usize = 2_000;
/// Issues kept per scan; beyond that they are counted, not stored.
const MAX_STORED_ISSUES: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanScope {
    All,
    /// One category folder (`Category`, by name: it need not be indexed
    /// yet): its courses renamed inside it are seen as moves.
    Category(LibraryPath),
    Course(CourseId),
}

#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub scope: ScanScope,
    /// Re-hash every file and report content that changed behind an
    /// unchanged size and modification time.
    pub verify: bool,
    /// Go on even when the safety guard would stop the scan.
    pub force: bool,
    pub started_by: String,
    /// Started by the watcher: recorded as a scan of kind `watch`.
    pub watched: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    pub scan_id: ScanId,
    pub status: ScanStatus,
    pub reason: Option<String>,
    #[serde(flatten)]
    pub counts: ScanCounts,
    pub issues: Vec<ScanIssue>,
}

pub struct Scanner {
    store: Arc<dyn Store>,
    root: PathBuf,
    max_missing_share: f64,
}

impl Scanner {
    pub fn new(store: Arc<dyn Store>, root: PathBuf) -> Self {
        Self {
            store,
            root,
            max_missing_share: 0.5,
        }
    }

    /// The share of known files a scan may mark missing before the safety
    /// guard stops it (0.5 by default).
    pub fn max_missing_share(mut self, share: f64) -> Self {
        self.max_missing_share = share;
        self
    }

    /// Takes the operation lock and opens the scan's history record; the
    /// caller then runs it (in the background, for the HTTP API).
    pub async fn start(&self, options: ScanOptions) -> Result<RunningScan, ScanError> {
        let course = match &options.scope {
            ScanScope::All => None,
            ScanScope::Category(path) if path.depth() != 1 => {
                return Err(ScanError::NotACategory(path.to_string_lossy().into_owned()))
            }
            ScanScope::Category(_) => None,
            &ScanScope::Course(id) => {
                let course = self
                    .store
                    .course(id)
                    .await?
                    .ok_or(ScanError::UnknownCourse(id))?;
                Some((id, course.path))
            }
        };
        let lock = LockHandle::acquire(&self.store, "scan", &options.started_by).await?;
        self.store.interrupt_running_scans().await?;
        let record = NewScan {
            kind: match (&options.scope, options.watched) {
                (_, true) => ScanKind::Watch,
                (ScanScope::Course(_), false) => ScanKind::Course,
                _ => ScanKind::Full,
            },
            course_id: course.as_ref().map(|(id, _)| *id),
            started_by: options.started_by.clone(),
            verify: options.verify,
            forced: options.force,
        };
        let id = self.store.begin_scan(&record).await?;
        let progress = Arc::new(ScanProgress::default());
        Ok(RunningScan {
            id,
            lock,
            progress: progress.clone(),
            work: Work {
                store: self.store.clone(),
                root: self.root.clone(),
                course,
                options,
                max_missing_share: self.max_missing_share,
                id,
                progress,
                counts: ScanCounts::default(),
                issues: Vec::new(),
                issues_stored: 0,
                pending: Pending::default(),
                courses: HashMap::new(),
                moved: Vec::new(),
                renamed_categories: Vec::new(),
            },
        })
    }
}

pub struct RunningScan {
    id: ScanId,
    lock: LockHandle,
    progress: Arc<ScanProgress>,
    work: Work,
}

impl RunningScan {
    pub fn id(&self) -> ScanId {
        self.id
    }

    /// Live progress, and the way to cancel the scan.
    pub fn progress(&self) -> Arc<ScanProgress> {
        self.progress.clone()
    }

    /// Runs the scan to its end and records how it ended. Never an error:
    /// a failure is a `failed` scan with its reason.
    pub async fn run(self) -> ScanReport {
        let RunningScan {
            id,
            lock,
            progress,
            mut work,
        } = self;
        let (status, reason) = match work.execute().await {
            Ok(outcome) => outcome,
            Err(e) => (ScanStatus::Failed, Some(e.to_string())),
        };
        if let Err(e) = work.finish(status, reason.as_deref()).await {
            tracing::error!("could not record the end of scan {id}: {e}");
        }
        progress.set_phase(Phase::Done);
        if let Err(e) = lock.release().await {
            tracing::warn!("could not release the operation lock: {e}");
        }
        ScanReport {
            scan_id: id,
            status,
            reason,
            counts: work.counts,
            issues: work.issues,
        }
    }
}

type Outcome = (ScanStatus, Option<String>);

/// How many present files each course held before the scan wrote
/// anything, for judging renames. Counted by id in the pass the safety
/// guard makes anyway: paths are only looked at when something moved.
struct Before {
    present: HashMap<CourseId, usize>,
}

impl Before {
    fn of(known: &[KnownFile]) -> Before {
        let mut present = HashMap::new();
        for k in known.iter().filter(|k| k.state == FileState::Present) {
            *present.entry(k.course_id).or_insert(0) += 1;
        }
        Before { present }
    }

    /// The counts by folder: each course's path, and each category's (the
    /// sum of its courses'), under `courses`' paths.
    fn by_folder(&self, courses: &HashMap<LibraryPath, CourseId>) -> HashMap<LibraryPath, usize> {
        let mut folders = HashMap::new();
        for (path, id) in courses {
            let n = self.present.get(id).copied().unwrap_or(0);
            folders.insert(path.clone(), n);
            if let Some(category) = path.prefix(1) {
                *folders.entry(category).or_insert(0) += n;
            }
        }
        folders
    }
}

/// `path` with the folder `from` it lies in (or is) replaced by `to`.
fn rebase(path: &LibraryPath, from: &LibraryPath, to: &LibraryPath) -> LibraryPath {
    if !path.starts_with(from) {
        return path.clone();
    }
    let rest = path.strip_prefix(from.depth()).filter(|r| !r.is_empty());
    match rest {
        Some(rest) => to.join(rest).unwrap_or_else(|_| path.clone()),
        None => to.clone(),
    }
}

/// A decision about a folder's identity, as the scan's history tells it.
fn report(decision: &Decision, what: &str) -> ScanIssue {
    let list = |to: &[(LibraryPath, usize)]| {
        to.iter()
            .map(|(p, n)| format!("{} ({n})", p.display()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match decision {
        Decision::Renamed {
            from,
            to,
            files,
            of,
        } => ScanIssue::warning(
            from.to_string_lossy(),
            format!(
                "the {what} folder is now {}: {files} of its {of} files moved there, so it keeps \
                 its id, its grants and everyone's progress",
                to.display()
            ),
        ),
        Decision::Split { from, to } => ScanIssue::warning(
            from.to_string_lossy(),
            format!(
                "some of its files moved to the new {what} folder {}; it is still there and keeps \
                 its id, and its grants do not reach the new one",
                list(to)
            ),
        ),
        Decision::Spread { from, to, of } => ScanIssue::warning(
            from.to_string_lossy(),
            format!(
                "the {what} folder is gone and its files went to {}; none holds more than half \
                 of its {of} files, so each is a new {what} and its grants do not reach them",
                list(to)
            ),
        ),
        Decision::Merged { from, into, kept } => ScanIssue::warning(
            from.to_string_lossy(),
            format!(
                "its files moved into {}, which keeps the id of {} (it holds more of that {what}'s \
                 files); grants on this {what} do not reach it",
                into.display(),
                kept.display()
            ),
        ),
    }
}
type HashResults = tokio::sync::mpsc::Receiver<Vec<(HashJob, Result<Hashed, HashError>)>>;

type Hashing = tokio::task::JoinHandle<Result<(), StoreError>>;

async fn joined(task: Hashing) -> Result<(), StoreError> {
    task.await
        .map_err(|e| StoreError::other(format!("hashing stopped: {e}")))?
}

/// A file at a path the index has no present record for may be a file that
/// moved there.
fn could_be_a_move(job: &HashJob) -> bool {
    job.known
        .as_ref()
        .is_none_or(|k| k.state == FileState::Missing)
}

/// Results waiting for the next commit. Course ids are resolved from the
/// path at commit time, since a new file may be in a course not yet made.
#[derive(Default)]
struct Pending {
    purged: Vec<FileId>,
    added: Vec<(LibraryPath, FileFacts)>,
    changed: Vec<(FileId, LibraryPath, FileFacts)>,
    missing: Vec<FileId>,
    descriptions: Vec<(LibraryPath, Option<String>)>,
}

impl Pending {
    fn len(&self) -> usize {
        self.purged.len()
            + self.added.len()
            + self.changed.len()
            + self.missing.len()
            + self.descriptions.len()
    }
}

struct Work {
    store: Arc<dyn Store>,
    root: PathBuf,
    course: Option<(CourseId, LibraryPath)>,
    options: ScanOptions,
    max_missing_share: f64,
    id: ScanId,
    progress: Arc<ScanProgress>,
    counts: ScanCounts,
    issues: Vec<ScanIssue>,
    issues_stored: usize,
    pending: Pending,
    courses: HashMap<LibraryPath, CourseId>,
    /// (old path, new path) of the files found moved.
    moved: Vec<(LibraryPath, LibraryPath)>,
    /// Category folders renamed in this scan: (old name, new name).
    renamed_categories: Vec<(LibraryPath, LibraryPath)>,
}

impl Work {
    async fn execute(&mut self) -> Result<Outcome, StoreError> {
        self.progress.set_phase(Phase::Walking);
        if let Some(reason) = self.root_problem() {
            return Ok((ScanStatus::Aborted, Some(reason)));
        }
        let only = self.folder().cloned();
        let (root, progress) = (self.root.clone(), self.progress.clone());
        let walking = background::run("walk", move || walk(&root, only.as_ref(), &progress));
        let scope = match (&self.course, &self.options.scope) {
            (Some((id, _)), _) => Scope::Course(*id),
            (None, ScanScope::Category(path)) => Scope::Category(path.clone()),
            (None, _) => Scope::All,
        };
        let started = std::time::Instant::now();
        let known = self.store.known_files(scope).await?;
        tracing::info!(records = known.len(), elapsed = ?started.elapsed(), "index loaded");
        let mut walked = walking.await?;
        tracing::info!(files = walked.files.len(), elapsed = ?started.elapsed(), "walk done");
        for issue in std::mem::take(&mut walked.issues) {
            self.note(issue);
        }
        self.remember_courses().await?;
        let before = Before::of(&known);
        let known_present = before.present.values().sum();
        let verify = self.options.verify;
        let plan = background::run("plan", move || plan(known, walked, verify)).await?;
        tracing::info!(to_hash = plan.jobs.len(), elapsed = ?started.elapsed(), "planned");
        self.counts.unchanged += plan.unchanged;

        let mut moves = Moves::new(&plan.vanished, &plan.missing_before);
        let move_sizes = moves.sizes();
        let (early, late): (Vec<HashJob>, Vec<HashJob>) = plan
            .jobs
            .into_iter()
            .partition(|j| could_be_a_move(j) && move_sizes.contains(&j.seen.size));
        self.progress.set_phase(Phase::Hashing);
        self.progress
            .will_hash(early.iter().chain(&late).map(|j| j.seen.size).sum());
        let moved = self.hash_move_candidates(early, &mut moves).await?;

        let missing: Vec<&KnownFile> = plan
            .vanished
            .iter()
            .filter(|k| !moved.contains(&k.id))
            .collect();
        if let Some(reason) = self.guard(missing.len(), known_present) {
            return Ok((ScanStatus::Aborted, Some(reason)));
        }
        if self.progress.is_cancelled() {
            return Ok((ScanStatus::Cancelled, None));
        }
        self.keep_identities(&before).await?;
        self.mark_missing(&missing);
        for change in plan.relabels {
            self.pending
                .changed
                .push((change.id, change.path, change.facts));
        }
        self.flush().await?;
        self.hash_and_write(late).await?;
        tracing::info!(elapsed = ?started.elapsed(), "hashed");
        self.progress.set_phase(Phase::Writing);
        self.flush().await?;
        tracing::info!(elapsed = ?started.elapsed(), "written");
        Ok(if self.progress.is_cancelled() {
            (
                ScanStatus::Cancelled,
                Some("cancelled by request; the batches written so far stay".into()),
            )
        } else {
            (ScanStatus::Completed, None)
        })
    }

    /// A root (or course folder) that is missing or unreadable looks the
    /// same as one whose files were all deleted: never scan it as such.
    fn root_problem(&self) -> Option<String> {
        let root = &self.root;
        match std::fs::metadata(root) {
            Err(e) => {
                return Some(format!(
                    "the library root {} cannot be reached: {e}",
                    root.display()
                ))
            }
            Ok(meta) if !meta.is_dir() => {
                return Some(format!(
                    "the library root {} is not a folder",
                    root.display()
                ))
            }
            Ok(_) => {}
        }
        if let Err(e) = std::fs::read_dir(root) {
            return Some(format!(
                "the library root {} cannot be read: {e}",
                root.display()
            ));
        }
        let folder = self.folder()?;
        let what = if folder.depth() == 1 {
            "category"
        } else {
            "course"
        };
        let dir = folder.to_path(root);
        (!dir.is_dir() && !self.options.force).then(|| {
            format!(
                "the {what} folder {} is gone from the library root; nothing was changed \
                 (rescan with --force to mark its files missing)",
                folder.display()
            )
        })
    }

    /// The one folder this scan looks at, when it is not the whole library.
    fn folder(&self) -> Option<&LibraryPath> {
        match (&self.course, &self.options.scope) {
            (Some((_, path)), _) => Some(path),
            (None, ScanScope::Category(path)) => Some(path),
            (None, _) => None,
        }
    }

    fn guard(&self, missing: usize, known_present: usize) -> Option<String> {
        if self.options.force || missing == 0 {
            return None;
        }
        let share = missing as f64 / known_present.max(1) as f64;
        let over = lectern_core::scan::exceeds_missing_share(
            missing as u64,
            known_present as u64,
            self.max_missing_share,
        );
        over.then(|| {
            format!(
                "the scan would mark {missing} of {known_present} known files ({:.0} %) missing, more \
                 than the {:.0} % allowed; is the library unmounted? Nothing was changed. Scan with \
                 --force if the files really are gone.",
                share * 100.0,
                self.max_missing_share * 100.0
            )
        })
    }

    /// The courses by their paths as the index has them now (a missing
    /// file's path may name a folder its course has since left).
    async fn remember_courses(&mut self) -> Result<(), StoreError> {
        let courses = self.store.courses(None).await?;
        self.courses = courses.into_iter().map(|c| (c.path, c.id)).collect();
        Ok(())
    }

    /// Courses and categories whose folders were renamed or moved keep
    /// their ids (categories first, so that a course is judged at its
    /// category's new name); every decision is reported.
    async fn keep_identities(&mut self, before: &Before) -> Result<(), StoreError> {
        if self.moved.is_empty() {
            return Ok(());
        }
        let moved = std::mem::take(&mut self.moved);
        // A folder still there keeps its own id (a split, or a folder
        // emptied by hand).
        let root = self.root.clone();
        let on_disk = move |f: &LibraryPath| f.to_path(&root).is_dir();
        let present = before.by_folder(&self.courses);
        let categories: HashMap<LibraryPath, CategoryId> = self
            .store
            .categories()
            .await?
            .into_iter()
            .filter_map(|c| Some((LibraryPath::parse(&c.name).ok()?, c.id)))
            .collect();
        let known = |f: &LibraryPath| categories.contains_key(f);
        for decision in identity::judge(&moved, 1, &present, &on_disk, &known) {
            if let Decision::Renamed { from, to, .. } = &decision {
                let renamed = match categories.get(from) {
                    Some(id) => self.store.rename_category(*id, to).await?,
                    None => false,
                };
                if renamed {
                    self.rebase_courses(from, to);
                }
            }
            self.note(report(&decision, "category"));
        }
        let indexed: HashSet<LibraryPath> = self.courses.keys().cloned().collect();
        let known = |f: &LibraryPath| indexed.contains(f);
        let rebased = |p: &LibraryPath| self.rebased(p);
        let moved: Vec<(LibraryPath, LibraryPath)> = moved
            .iter()
            .map(|(old, new)| (rebased(old), new.clone()))
            .collect();
        let present = before.by_folder(&self.courses);
        for decision in identity::judge(&moved, 2, &present, &on_disk, &known) {
            if let Decision::Renamed { from, to, .. } = &decision {
                let id = self.courses.get(from).copied();
                if let Some(id) = id {
                    if self.store.move_course(id, to).await? {
                        self.courses.remove(from);
                        self.courses.insert(to.clone(), id);
                    }
                }
            }
            self.note(report(&decision, "course"));
        }
        Ok(())
    }

    /// After category `from` became `to`: its courses' paths follow.
    fn rebase_courses(&mut self, from: &LibraryPath, to: &LibraryPath) {
        let courses = std::mem::take(&mut self.courses);
        self.courses = courses
            .into_iter()
            .map(|(path, id)| (rebase(&path, from, to), id))
            .collect();
        self.renamed_categories.push((from.clone(), to.clone()));
    }

    /// `path` under the category names this scan gave.
    fn rebased(&self, path: &LibraryPath) -> LibraryPath {
        self.renamed_categories
            .iter()
            .fold(path.clone(), |p, (from, to)| rebase(&p, from, to))
    }

    fn mark_missing(&mut self, missing: &[&KnownFile]) {
        for k in missing {
            self.pending.missing.push(k.id);
            self.counts.removed += 1;
            if k.facts.role == FileRole::Description {
                if let Some(course) = k.path.prefix(2) {
                    self.pending.descriptions.push((course, None));
                }
            }
        }
    }

    /// Hashes `jobs` on the scan's threads; results arrive as they are ready.
    fn start_hashing(&self, jobs: Vec<HashJob>) -> (HashResults, Hashing) {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let (root, progress) = (self.root.clone(), self.progress.clone());
        let locate = move |j: &HashJob| {
            (
                j.seen.path.to_path(&root),
                j.kind.role == FileRole::Description,
            )
        };
        (
            rx,
            tokio::spawn(background::run("hashing", move || {
                hash_all(jobs, locate, &progress, tx)
            })),
        )
    }

    /// Hashes the files that could be moves and takes their results in path
    /// order, so that identical files pair the same way on every run.
    /// Returns the ids kept by moves; nothing is written yet.
    async fn hash_move_candidates(
        &mut self,
        jobs: Vec<HashJob>,
        moves: &mut Moves,
    ) -> Result<HashSet<FileId>, StoreError> {
        let (mut rx, hashing) = self.start_hashing(jobs);
        let mut results = Vec::new();
        while let Some(chunk) = rx.recv().await {
            results.extend(chunk);
        }
        joined(hashing).await?;
        results.sort_by(|(a, _), (b, _)| a.seen.path.cmp(&b.seen.path));
        let mut moved = HashSet::new();
        for (job, result) in results {
            moved.extend(self.absorb(job, result, moves));
        }
        Ok(moved)
    }

    /// Hashes the remaining files (none can be a move), committing every
    /// [`BATCH`] results as they stream in.
    async fn hash_and_write(&mut self, jobs: Vec<HashJob>) -> Result<(), StoreError> {
        let (mut rx, hashing) = self.start_hashing(jobs);
        let mut no_moves = Moves::default();
        while let Some(chunk) = rx.recv().await {
            for (job, result) in chunk {
                self.absorb(job, result, &mut no_moves);
            }
            if self.pending.len() >= BATCH {
                self.flush().await?;
            }
        }
        joined(hashing).await
    }

    /// Turns one hash result into pending changes and counts; returns the
    /// id of a vanished record that this file turned out to be (a move).
    fn absorb(
        &mut self,
        job: HashJob,
        result: Result<Hashed, HashError>,
        moves: &mut Moves,
    ) -> Option<FileId> {
        let mut hashed = match result {
            Ok(hashed) => hashed,
            Err(HashError::Cancelled) => return None,
            Err(e) => {
                self.note(ScanIssue::error(
                    job.seen.path.to_string_lossy(),
                    e.to_string(),
                ));
                return None;
            }
        };
        self.counts.hashed_files += 1;
        self.counts.hashed_bytes += hashed.size;
        let text = hashed.text.take();
        let path = job.seen.path;
        let course = path.prefix(2);
        let facts = job
            .kind
            .with_content(hashed.size, hashed.mtime_ns, hashed.sha256);
        let describes = facts.role == FileRole::Description;
        let (written, moved) = match job.known {
            None => match moves.take(facts.size, facts.sha256) {
                Some(old) => (true, Some(self.record_move(old, None, path, facts))),
                None => {
                    self.counts.added += 1;
                    self.pending.added.push((path, facts));
                    (true, None)
                }
            },
            // A file that vanished in this same scan and reappears at the
            // path of an older missing record moved here: the move keeps
            // its id and the old record yields the path. Otherwise the
            // record at this path comes back.
            Some(k) if k.state == FileState::Missing => {
                match moves.take_vanished(facts.size, facts.sha256) {
                    Some(old) => (true, Some(self.record_move(old, Some(k.id), path, facts))),
                    None => {
                        self.counts.added += 1;
                        self.pending.changed.push((k.id, path, facts));
                        (true, None)
                    }
                }
            }
            Some(k) => (self.compare(&k, &job.kind, path, facts), None),
        };
        // The description follows what the index accepts: never the text
        // of a file whose change was refused (an integrity error), and
        // `None` for a README too large to copy in.
        if let (true, true, Some(course)) = (describes, written, course) {
            self.pending.descriptions.push((course, text));
        }
        moved
    }

    fn record_move(
        &mut self,
        old: KnownFile,
        displaced: Option<FileId>,
        path: LibraryPath,
        facts: FileFacts,
    ) -> FileId {
        self.counts.moved += 1;
        if old.facts.role == FileRole::Description {
            if let Some(course) = old.path.prefix(2) {
                self.pending.descriptions.push((course, None));
            }
        }
        self.pending.purged.extend(displaced);
        self.moved.push((old.path.clone(), path.clone()));
        self.pending.changed.push((old.id, path, facts));
        old.id
    }

    /// Judges a present file that was read again; returns whether its record
    /// is rewritten (content changed, touched, or relabelled).
    fn compare(&mut self, k: &KnownFile, kind: &Kind, path: LibraryPath, facts: FileFacts) -> bool {
        let same_content = k.facts.size == facts.size && k.facts.sha256 == facts.sha256;
        let same_stat = k.facts.size == facts.size && k.facts.mtime_ns == facts.mtime_ns;
        if !same_content && same_stat {
            // Only --verify reads such a file. The stored hash is the last
            // known good one and is kept as the evidence.
            self.note(ScanIssue::integrity(
                path.to_string_lossy(),
                format!(
                    "content changed while size and modification time did not (stored sha256 {}, \
                     now {}); the index keeps the stored hash",
                    k.facts.sha256, facts.sha256
                ),
            ));
            return false;
        }
        if same_content {
            self.counts.unchanged += 1;
            if k.facts.mtime_ns == facts.mtime_ns && kind.matches(&k.facts) {
                return false;
            }
        } else {
            self.counts.updated += 1;
        }
        self.pending.changed.push((k.id, path, facts));
        true
    }

    fn note(&mut self, issue: ScanIssue) {
        if issue.kind != IssueKind::Warning {
            self.counts.errors += 1;
        }
        if self.issues.len() < MAX_STORED_ISSUES {
            self.issues.push(issue);
        }
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        let pending = std::mem::take(&mut self.pending);
        let needed: Vec<LibraryPath> = pending
            .added
            .iter()
            .map(|(p, _)| p)
            .chain(pending.changed.iter().map(|(_, p, _)| p))
            .filter_map(|p| p.prefix(2))
            // Not the descriptions' courses: a description only follows a
            // file written here, and one cleared at a course's old path
            // (renamed in this scan) must not bring that course back.
            .filter(|c| !self.courses.contains_key(c))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if !needed.is_empty() {
            let made = self.store.ensure_courses(&needed).await?;
            self.courses.extend(made);
        }
        let batch = self.batch(pending)?;
        self.store.apply(&batch).await?;
        self.store_issues().await?;
        self.store.update_scan_counts(self.id, &self.counts).await
    }

    fn batch(&self, pending: Pending) -> Result<ChangeBatch, StoreError> {
        let course_of = |path: &LibraryPath| -> Result<CourseId, StoreError> {
            path.prefix(2)
                .and_then(|c| self.courses.get(&c).copied())
                .ok_or_else(|| StoreError::other(format!("no course for {}", path.display())))
        };
        let mut batch = ChangeBatch {
            purged: pending.purged,
            missing: pending.missing,
            ..ChangeBatch::default()
        };
        for (path, facts) in pending.added {
            batch.added.push(NewFile {
                course_id: course_of(&path)?,
                path,
                facts,
            });
        }
        for (id, path, facts) in pending.changed {
            batch.changed.push(FileChange {
                id,
                course_id: course_of(&path)?,
                path,
                facts,
            });
        }
        for (course, text) in pending.descriptions {
            if let Some(id) = self.courses.get(&course) {
                batch.descriptions.push((*id, text));
            }
        }
        Ok(batch)
    }

    async fn store_issues(&mut self) -> Result<(), StoreError> {
        let fresh = &self.issues[self.issues_stored..];
        if !fresh.is_empty() {
            self.store.record_issues(self.id, fresh).await?;
            self.issues_stored = self.issues.len();
        }
        Ok(())
    }

    async fn finish(&mut self, status: ScanStatus, reason: Option<&str>) -> Result<(), StoreError> {
        self.store_issues().await?;
        self.store
            .finish_scan(self.id, status, reason, &self.counts)
            .await
    }
}
