//! In-process HNSW (hnsw_rs) with owner/collection/metadata filters applied during the graph
//! walk, tombstones for removals, and snapshots to a folder.
//!
//! hnsw_rs cannot delete points, so a removed or replaced entry stays in the graph as a
//! tombstone: the walk passes through it but never returns it. A filter that selects only a few
//! vectors (one user's 50 chunks among 100k) would make a filtered walk wander far for few
//! matches, so below [`BRUTE_FORCE_BELOW`] candidates the search scores them exactly instead.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::{Path, PathBuf},
    sync::RwLock,
};

use async_trait::async_trait;
use hnsw_rs::prelude::{AnnT, DistDot, Hnsw, HnswIo};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{check_dimensions, normalised, Entry, Filter, Hit, IndexError, VectorIndex};

/// Filters selecting fewer vectors than this are answered by exact scoring.
const BRUTE_FORCE_BELOW: usize = 2_000;
const GRAPH_BASENAME: &str = "graph";
const ENTRIES_FILE: &str = "entries.json";
/// hnsw_rs sizes its layer tables from this hint; the graph still grows past it.
const CAPACITY_HINT: usize = 100_000;
const MAX_LAYERS: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HnswSettings {
    /// Edges per node (M). More: better recall, more memory, slower inserts.
    pub max_connections: usize,
    /// Candidate list while inserting. More: a better graph, slower inserts.
    pub ef_construction: usize,
    /// Candidate list while searching (at least k). More: better recall, slower queries.
    pub ef_search: usize,
}

impl Default for HnswSettings {
    /// Chosen by the recall benchmark: recall@10 ≥ 0.95 on 100k random 384-d vectors, the
    /// hardest case (real embeddings cluster and do better).
    fn default() -> Self {
        Self {
            max_connections: 24,
            ef_construction: 200,
            ef_search: 200,
        }
    }
}

/// What the graph's integer ids stand for. Persisted beside the graph.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    id: Uuid,
    owner: String,
    collection: String,
    metadata: BTreeMap<String, String>,
    /// Kept for exact scoring of small filtered sets; restored from the graph on load.
    #[serde(skip)]
    vector: Vec<f32>,
}

#[derive(Deserialize)]
struct Snapshot {
    dimensions: usize,
    settings: HnswSettings,
    next: usize,
    live: HashMap<usize, Meta>,
}

/// [`Snapshot`] borrowing the live map, so writing one copies no vectors.
#[derive(Serialize)]
struct SnapshotRef<'a> {
    dimensions: usize,
    settings: HnswSettings,
    next: usize,
    live: &'a HashMap<usize, Meta>,
}

struct State {
    graph: Hnsw<'static, f32, DistDot>,
    /// Graph id → entry, for live points only; anything else in the graph is a tombstone.
    live: HashMap<usize, Meta>,
    by_id: HashMap<Uuid, usize>,
    by_owner: HashMap<String, HashSet<usize>>,
    next: usize,
    dirty: bool,
}

impl State {
    fn new(settings: &HnswSettings) -> Self {
        Self {
            graph: new_graph(settings),
            live: HashMap::new(),
            by_id: HashMap::new(),
            by_owner: HashMap::new(),
            next: 0,
            dirty: false,
        }
    }

    fn bury(&mut self, id: &Uuid) {
        if let Some(point) = self.by_id.remove(id) {
            if let Some(meta) = self.live.remove(&point) {
                if let Some(points) = self.by_owner.get_mut(&meta.owner) {
                    points.remove(&point);
                }
            }
            self.dirty = true;
        }
    }

    fn admit(&mut self, point: usize, meta: Meta) {
        self.by_id.insert(meta.id, point);
        self.by_owner
            .entry(meta.owner.clone())
            .or_default()
            .insert(point);
        self.live.insert(point, meta);
    }
}

fn new_graph(settings: &HnswSettings) -> Hnsw<'static, f32, DistDot> {
    let mut graph = Hnsw::new(
        settings.max_connections,
        CAPACITY_HINT,
        MAX_LAYERS,
        settings.ef_construction,
        DistDot,
    );
    graph.set_searching_mode(true);
    graph
}

pub struct HnswIndex {
    dimensions: usize,
    settings: HnswSettings,
    /// Where snapshots go; `None` keeps the index in memory only.
    dir: Option<PathBuf>,
    state: RwLock<State>,
}

impl HnswIndex {
    pub fn in_memory(dimensions: usize, settings: HnswSettings) -> Self {
        Self {
            dimensions,
            settings,
            dir: None,
            state: RwLock::new(State::new(&settings)),
        }
    }

    /// Opens the snapshot in `dir`, or starts empty. A snapshot made with other dimensions or
    /// settings is discarded (the caller's [`super::reconcile`] refills the index from the store).
    pub fn open(dir: &Path, dimensions: usize, settings: HnswSettings) -> Result<Self, IndexError> {
        std::fs::create_dir_all(dir).map_err(storage)?;
        let current = dir.join("current");
        let previous = dir.join("previous");
        // A crash between the two renames in `persist` leaves only `previous`.
        if !current.exists() && previous.exists() {
            std::fs::rename(&previous, &current).map_err(storage)?;
        }
        let state = match load(&current, dimensions, &settings) {
            Ok(Some(state)) => state,
            Ok(None) => State::new(&settings),
            Err(e) => {
                tracing::warn!(error = %e, dir = %dir.display(), "HNSW snapshot unreadable; rebuilding from the store");
                State::new(&settings)
            }
        };
        Ok(Self {
            dimensions,
            settings,
            dir: Some(dir.to_path_buf()),
            state: RwLock::new(state),
        })
    }

    /// Trades recall for speed at query time; the graph is unchanged.
    pub fn set_ef_search(&mut self, ef_search: usize) {
        self.settings.ef_search = ef_search;
    }

    pub fn len(&self) -> usize {
        self.read().live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way searches
        // could trip on (inserts complete before the maps change), so poisoning is ignored.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
}

fn storage(e: impl std::fmt::Display) -> IndexError {
    IndexError::Storage(e.to_string())
}

fn load(dir: &Path, dimensions: usize, settings: &HnswSettings) -> anyhow::Result<Option<State>> {
    let entries = dir.join(ENTRIES_FILE);
    if !entries.exists() {
        return Ok(None);
    }
    let snapshot: Snapshot = serde_json::from_slice(&std::fs::read(&entries)?)?;
    // ef_search is a query-time knob; the other two shape the graph.
    let graph_changed = (
        snapshot.settings.max_connections,
        snapshot.settings.ef_construction,
    ) != (settings.max_connections, settings.ef_construction);
    if snapshot.dimensions != dimensions || graph_changed {
        tracing::info!("HNSW snapshot was built with other settings; rebuilding");
        return Ok(None);
    }
    let graph = if snapshot.next == 0 {
        new_graph(settings)
    } else {
        // The reloaded graph borrows its loader for its whole life; the index lives as long as
        // the process, so the loader (a few paths and options, no data) is leaked once per open.
        let io: &'static mut HnswIo = Box::leak(Box::new(HnswIo::new(dir, GRAPH_BASENAME)));
        let mut graph: Hnsw<'static, f32, DistDot> = io.load_hnsw()?;
        graph.set_searching_mode(true);
        graph
    };
    let mut state = State {
        graph,
        live: HashMap::new(),
        by_id: HashMap::new(),
        by_owner: HashMap::new(),
        next: snapshot.next,
        dirty: false,
    };
    let mut live = snapshot.live;
    let mut restored = Vec::with_capacity(live.len());
    for point in state.graph.get_point_indexation() {
        if let Some(mut meta) = live.remove(&point.get_origin_id()) {
            meta.vector = point.get_v().to_vec();
            restored.push((point.get_origin_id(), meta));
        }
    }
    for (point, meta) in restored {
        state.admit(point, meta);
    }
    Ok(Some(state))
}

#[async_trait]
impl VectorIndex for HnswIndex {
    fn name(&self) -> &'static str {
        "hnsw"
    }

    async fn upsert(&self, entries: Vec<Entry>) -> Result<(), IndexError> {
        for e in &entries {
            check_dimensions(self.dimensions, &e.vector)?;
        }
        let mut state = self.write();
        let first = state.next;
        let mut metas = Vec::with_capacity(entries.len());
        for e in entries {
            state.bury(&e.id);
            metas.push(Meta {
                id: e.id,
                owner: e.owner,
                collection: e.collection,
                metadata: e.metadata,
                vector: normalised(e.vector),
            });
        }
        let batch: Vec<(&Vec<f32>, usize)> = metas
            .iter()
            .enumerate()
            .map(|(i, m)| (&m.vector, first + i))
            .collect();
        state.graph.parallel_insert(&batch);
        state.next = first + metas.len();
        for (i, meta) in metas.into_iter().enumerate() {
            state.admit(first + i, meta);
        }
        state.dirty = true;
        Ok(())
    }

    async fn remove(&self, ids: &[Uuid]) -> Result<(), IndexError> {
        let mut state = self.write();
        for id in ids {
            state.bury(id);
        }
        Ok(())
    }

    async fn search(
        &self,
        query: &[f32],
        filter: &Filter,
        k: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        check_dimensions(self.dimensions, query)?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let query = normalised(query.to_vec());
        let state = self.read();
        let Some(owned) = state.by_owner.get(&filter.owner) else {
            return Ok(Vec::new());
        };
        let selects = |point: &usize| {
            state
                .live
                .get(point)
                .is_some_and(|m| filter.matches(&m.owner, &m.collection, &m.metadata))
        };
        // The points the filter selects, when they are few enough to score exactly.
        let few: Option<Vec<usize>> = if filter.collection.is_none() && filter.metadata.is_empty() {
            (owned.len() < BRUTE_FORCE_BELOW).then(|| owned.iter().copied().collect())
        } else {
            let selected: Vec<usize> = owned
                .iter()
                .copied()
                .filter(|p| selects(p))
                .take(BRUTE_FORCE_BELOW)
                .collect();
            (selected.len() < BRUTE_FORCE_BELOW).then_some(selected)
        };
        let mut hits: Vec<Hit> = match few {
            Some(points) => points
                .iter()
                .map(|p| {
                    let meta = &state.live[p];
                    Hit {
                        id: meta.id,
                        score: meta.vector.iter().zip(&query).map(|(a, b)| a * b).sum(),
                    }
                })
                .collect(),
            None => state
                .graph
                .search_filter(&query, k, self.settings.ef_search.max(k), Some(&selects))
                .into_iter()
                .filter_map(|n| {
                    state.live.get(&n.get_origin_id()).map(|m| Hit {
                        id: m.id,
                        score: 1.0 - n.get_distance(),
                    })
                })
                .collect(),
        };
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(k);
        Ok(hits)
    }

    async fn ids(&self) -> Result<HashSet<Uuid>, IndexError> {
        Ok(self.read().by_id.keys().copied().collect())
    }

    /// Writes a snapshot to a fresh folder and swaps it in with renames, so a crash at any
    /// point leaves the previous snapshot or the new one, never a torn one.
    async fn persist(&self) -> Result<(), IndexError> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let mut state = self.write();
        if !state.dirty {
            return Ok(());
        }
        let staging = dir.join(format!("staging-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&staging).map_err(storage)?;
        if state.next > 0 {
            state
                .graph
                .file_dump(&staging, GRAPH_BASENAME)
                .map_err(storage)?;
        }
        let snapshot = SnapshotRef {
            dimensions: self.dimensions,
            settings: self.settings,
            next: state.next,
            live: &state.live,
        };
        let json = serde_json::to_vec(&snapshot).map_err(storage)?;
        let file = staging.join(ENTRIES_FILE);
        std::fs::write(&file, json).map_err(storage)?;
        std::fs::File::open(&file)
            .and_then(|f| f.sync_all())
            .map_err(storage)?;
        let (current, previous) = (dir.join("current"), dir.join("previous"));
        let _ = std::fs::remove_dir_all(&previous);
        if current.exists() {
            std::fs::rename(&current, &previous).map_err(storage)?;
        }
        std::fs::rename(&staging, &current).map_err(storage)?;
        let _ = std::fs::remove_dir_all(&previous);
        state.dirty = false;
        Ok(())
    }
}
