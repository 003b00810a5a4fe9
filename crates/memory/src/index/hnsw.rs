//! In-process HNSW (USearch) with owner/collection/metadata filters applied during the graph
//! walk, and snapshots to a folder.
//!
//! USearch walks through vectors the filter rejects (they still route the search) but never
//! returns them, so a filter narrows the results, not the graph. A filter that selects only a
//! few vectors (one user's 50 chunks among 100k) would still make the walk wander far for few
//! matches, so below [`BRUTE_FORCE_BELOW`] selected vectors the search scores them exactly; and
//! when a walk comes back with fewer than `k` matches although more exist, the selected vectors
//! are scored exactly too. Either way a filter never starves a result.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::{Path, PathBuf},
    sync::RwLock,
};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};
use uuid::Uuid;

use super::{check_dimensions, dot, normalised, Entry, Filter, Hit, IndexError, VectorIndex};

/// Filters selecting fewer vectors than this are answered by exact scoring.
const BRUTE_FORCE_BELOW: usize = 2_000;
const GRAPH_FILE: &str = "graph.usearch";
/// Room reserved ahead of the graph's size, so a stream of small upserts doesn't reallocate.
const MIN_CAPACITY: usize = 1_024;
const ENTRIES_FILE: &str = "entries.json";

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
    /// Chosen on MiniLM embeddings of 100k sentences of finance text, what the documents
    /// service indexes (BENCHMARKS.md, "Vector search on real embeddings"): recall@10 0.999 at
    /// ~2,200 QPS and a 6,500 vectors/s build on 2 cores, where the previous M=48,
    /// ef_construction=400 graph built 3× slower for no better recall. Uniformly random
    /// vectors, which have no neighbourhoods, get 0.14 from this graph (0.64 at ef_search
    /// 1,200): a collection unlike text would need other settings.
    fn default() -> Self {
        Self {
            max_connections: 16,
            ef_construction: 128,
            ef_search: 128,
        }
    }
}

/// What the graph's integer keys stand for. Persisted beside the graph.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    id: Uuid,
    owner: String,
    collection: String,
    metadata: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
struct Snapshot<L> {
    dimensions: usize,
    settings: HnswSettings,
    next: u64,
    live: L,
}

struct State {
    graph: Index,
    /// Graph key → entry. Keys are never reused, so a replaced vector's old key simply vanishes.
    live: HashMap<u64, Meta>,
    by_id: HashMap<Uuid, u64>,
    by_owner: HashMap<String, HashSet<u64>>,
    next: u64,
    dirty: bool,
}

impl State {
    fn new(dimensions: usize, settings: &HnswSettings) -> Result<Self, IndexError> {
        Ok(Self {
            graph: new_graph(dimensions, settings)?,
            live: HashMap::new(),
            by_id: HashMap::new(),
            by_owner: HashMap::new(),
            next: 0,
            dirty: false,
        })
    }

    fn remove(&mut self, id: &Uuid) -> Result<(), IndexError> {
        if let Some(key) = self.by_id.remove(id) {
            self.graph.remove(key).map_err(storage)?;
            if let Some(meta) = self.live.remove(&key) {
                if let Some(keys) = self.by_owner.get_mut(&meta.owner) {
                    keys.remove(&key);
                }
            }
            self.dirty = true;
        }
        Ok(())
    }

    fn admit(&mut self, key: u64, meta: Meta) {
        self.by_id.insert(meta.id, key);
        self.by_owner
            .entry(meta.owner.clone())
            .or_default()
            .insert(key);
        self.live.insert(key, meta);
    }

    /// Cosine similarity of each key's stored vector to `query`.
    fn score_exactly(&self, query: &[f32], keys: &[u64]) -> Result<Vec<Hit>, IndexError> {
        let mut vector = vec![0.0; query.len()];
        keys.iter()
            .map(|key| {
                self.graph.get(*key, &mut vector).map_err(storage)?;
                Ok(Hit {
                    id: self.live[key].id,
                    score: dot(&vector, query),
                })
            })
            .collect()
    }
}

/// How many graph calls may run at once. USearch keeps one search context per concurrent call
/// and indexes past its table when more callers arrive than were reserved, so every call holds
/// one of these many permits (searches) or the write lock (inserts, which use this many threads).
fn contexts() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Makes room for `members` vectors and [`contexts`] concurrent calls.
fn reserve(graph: &Index, members: usize) -> Result<(), IndexError> {
    if members > graph.capacity() {
        let capacity = members.max(graph.capacity() * 2).max(MIN_CAPACITY);
        graph
            .reserve_capacity_and_threads(capacity, contexts())
            .map_err(storage)?;
    }
    Ok(())
}

fn new_graph(dimensions: usize, settings: &HnswSettings) -> Result<Index, IndexError> {
    let graph = Index::new(&IndexOptions {
        dimensions,
        // Vectors are normalised on the way in, so inner product is cosine similarity.
        metric: MetricKind::IP,
        quantization: ScalarKind::F32,
        connectivity: settings.max_connections,
        expansion_add: settings.ef_construction,
        expansion_search: settings.ef_search,
        multi: false,
    })
    .map_err(storage)?;
    graph
        .reserve_capacity_and_threads(MIN_CAPACITY, contexts())
        .map_err(storage)?;
    Ok(graph)
}

pub struct HnswIndex {
    dimensions: usize,
    settings: HnswSettings,
    /// Where snapshots go; `None` keeps the index in memory only.
    dir: Option<PathBuf>,
    state: RwLock<State>,
    /// One per search context; see [`contexts`].
    searches: tokio::sync::Semaphore,
}

impl HnswIndex {
    pub fn in_memory(dimensions: usize, settings: HnswSettings) -> Result<Self, IndexError> {
        Ok(Self {
            dimensions,
            settings,
            dir: None,
            state: RwLock::new(State::new(dimensions, &settings)?),
            searches: tokio::sync::Semaphore::new(contexts()),
        })
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
            Ok(None) => State::new(dimensions, &settings)?,
            Err(e) => {
                tracing::warn!(error = %e, dir = %dir.display(), "HNSW snapshot unreadable; rebuilding from the store");
                State::new(dimensions, &settings)?
            }
        };
        Ok(Self {
            dimensions,
            settings,
            dir: Some(dir.to_path_buf()),
            state: RwLock::new(state),
            searches: tokio::sync::Semaphore::new(contexts()),
        })
    }

    /// Trades recall for speed at query time; the graph is unchanged.
    pub fn set_ef_search(&mut self, ef_search: usize) {
        self.settings.ef_search = ef_search;
        self.write().graph.change_expansion_search(ef_search);
    }

    pub fn len(&self) -> usize {
        self.read().live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // The maps change only after the graph call they describe has succeeded, so a panic
        // while holding the lock cannot leave them describing a graph that isn't there.
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
    let snapshot: Snapshot<HashMap<u64, Meta>> = serde_json::from_slice(&std::fs::read(&entries)?)?;
    // ef_search is a query-time knob; the other two shape the graph.
    let graph_changed = (
        snapshot.settings.max_connections,
        snapshot.settings.ef_construction,
    ) != (settings.max_connections, settings.ef_construction);
    if snapshot.dimensions != dimensions || graph_changed {
        tracing::info!("HNSW snapshot was built with other settings; rebuilding");
        return Ok(None);
    }
    let mut state = State::new(dimensions, settings)?;
    state.graph.load(&path_str(&dir.join(GRAPH_FILE))?)?;
    // Loading sizes the graph to what it holds; searches need their contexts too.
    let size = state.graph.size();
    state
        .graph
        .reserve_capacity_and_threads(size.max(MIN_CAPACITY), contexts())?;
    state.graph.change_expansion_search(settings.ef_search);
    state.next = snapshot.next;
    for (key, meta) in snapshot.live {
        anyhow::ensure!(
            state.graph.contains(key),
            "snapshot lists vector {key} that its graph lacks"
        );
        state.admit(key, meta);
    }
    Ok(Some(state))
}

fn path_str(path: &Path) -> Result<String, IndexError> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| storage(format!("{} is not valid UTF-8", path.display())))
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
        for e in &entries {
            state.remove(&e.id)?;
        }
        reserve(&state.graph, state.graph.size() + entries.len())?;
        let first = state.next;
        let vectors: Vec<(u64, Vec<f32>)> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (first + i as u64, normalised(e.vector.clone())))
            .collect();
        let graph = &state.graph;
        std::thread::scope(|scope| {
            let share = vectors.len().div_ceil(contexts()).max(1);
            let workers: Vec<_> = vectors
                .chunks(share)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .try_for_each(|(key, vector)| graph.add(*key, vector))
                    })
                })
                .collect();
            workers
                .into_iter()
                .try_for_each(|w| w.join().expect("USearch insert thread panicked"))
        })
        .map_err(storage)?;
        state.next = first + entries.len() as u64;
        for (i, e) in entries.into_iter().enumerate() {
            let meta = Meta {
                id: e.id,
                owner: e.owner,
                collection: e.collection,
                metadata: e.metadata,
            };
            state.admit(first + i as u64, meta);
        }
        state.dirty = true;
        Ok(())
    }

    async fn remove(&self, ids: &[Uuid]) -> Result<(), IndexError> {
        let mut state = self.write();
        ids.iter().try_for_each(|id| state.remove(id))
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
        let _context = self
            .searches
            .acquire()
            .await
            .map_err(|_| storage("the index is closed"))?;
        let state = self.read();
        let Some(owned) = state.by_owner.get(&filter.owner) else {
            return Ok(Vec::new());
        };
        let selects = |key: &u64| {
            state
                .live
                .get(key)
                .is_some_and(|m| filter.matches(&m.owner, &m.collection, &m.metadata))
        };
        let only_owner = filter.collection.is_none() && filter.metadata.is_empty();
        let selected = || -> Vec<u64> {
            owned
                .iter()
                .copied()
                .filter(|key| only_owner || selects(key))
                .collect()
        };
        // The keys the filter selects, when they are few enough to score exactly.
        let few: Option<Vec<u64>> = if only_owner {
            (owned.len() < BRUTE_FORCE_BELOW).then(selected)
        } else {
            let some: Vec<u64> = owned
                .iter()
                .copied()
                .filter(|key| selects(key))
                .take(BRUTE_FORCE_BELOW)
                .collect();
            (some.len() < BRUTE_FORCE_BELOW).then_some(some)
        };
        let mut hits = match few {
            Some(keys) => state.score_exactly(&query, &keys)?,
            None => {
                let found = state
                    .graph
                    .filtered_search(&query, k, |key| selects(&key))
                    .map_err(storage)?;
                if found.keys.len() < k {
                    // The walk ran out before finding k matches, though at least
                    // BRUTE_FORCE_BELOW exist: a filter must never starve a result.
                    state.score_exactly(&query, &selected())?
                } else {
                    found
                        .keys
                        .iter()
                        .zip(&found.distances)
                        .map(|(key, distance)| Hit {
                            id: state.live[key].id,
                            score: 1.0 - distance,
                        })
                        .collect()
                }
            }
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
        let graph_file = staging.join(GRAPH_FILE);
        state.graph.save(&path_str(&graph_file)?).map_err(storage)?;
        let snapshot = Snapshot {
            dimensions: self.dimensions,
            settings: self.settings,
            next: state.next,
            live: &state.live,
        };
        let json = serde_json::to_vec(&snapshot).map_err(storage)?;
        let entries_file = staging.join(ENTRIES_FILE);
        std::fs::write(&entries_file, json).map_err(storage)?;
        for file in [&graph_file, &entries_file] {
            std::fs::File::open(file)
                .and_then(|f| f.sync_all())
                .map_err(storage)?;
        }
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
