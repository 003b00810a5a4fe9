//! Memory speed: ingestion chunks/s, and vector search QPS at recall@10 against exact search.
//!
//! `cargo bench -p miyagi-memory --bench vector_search` (pgvector: `scripts/pgvector.sh start`
//! first, or `TEST_PGVECTOR_URL`; `MIYAGI_BENCH_VECTORS` sets the collection size, default
//! 100000; `MIYAGI_BENCH_SKIP=ingestion,hnsw,pgvector` skips parts).
//!
//! Ingestion = extract + chunk + embed the bundled investing corpus with MiniLM. Search = the
//! MiniLM embeddings of that many distinct sentences of personal-finance text ([`corpus`]),
//! 1,000 queries from the same generator that are not in the collection, one at a time. The
//! embeddings are cached beside the model cache after the first run (embedding 100k sentences
//! takes minutes). `MIYAGI_BENCH_DATA=random` searches uniformly random vectors instead: no
//! structure for a graph to exploit, the hardest case.

#[path = "vector_search/corpus.rs"]
mod corpus;

use std::{
    collections::{BTreeMap, HashSet},
    path::Path,
    time::Instant,
};

use miyagi_kernel::EmbeddingModel;
use miyagi_memory::{
    chunk::{ChunkSettings, Chunker, TokenCounter},
    extract::{extract, Format},
    index::{Entry, ExactIndex, Filter, Hit, HnswIndex, HnswSettings, PgVectorIndex, VectorIndex},
};
use miyagi_models::{
    cache::{ModelCache, MINILM},
    embeddings::LocalEmbedder,
};
use rand::{rngs::StdRng, Rng, SeedableRng};
use uuid::Uuid;

const DIM: usize = 384;
const QUERIES: usize = 1_000;

#[tokio::main]
async fn main() {
    if !skipped("ingestion") {
        ingestion().await;
    }
    search().await;
}

fn skipped(part: &str) -> bool {
    std::env::var("MIYAGI_BENCH_SKIP").is_ok_and(|s| s.split(',').any(|p| p.trim() == part))
}

async fn ingestion() {
    let dir = ModelCache::new(ModelCache::default_dir())
        .ensure(&MINILM, true)
        .unwrap();
    let embedder = LocalEmbedder::load(&dir).unwrap();
    let chunker = Chunker::new(
        TokenCounter::from_file(&dir.join("tokenizer.json")).unwrap(),
        ChunkSettings::default(),
    )
    .unwrap();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../services/documents/datasets/investing-principles");
    let files: Vec<Vec<u8>> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    let started = Instant::now();
    let mut chunks = 0;
    for bytes in &files {
        let text = extract(Format::Markdown, bytes).unwrap();
        let pieces: Vec<String> = chunker
            .chunk(&text, true)
            .into_iter()
            .map(|c| c.text)
            .collect();
        for batch in pieces.chunks(32) {
            embedder.embed(batch).await.unwrap();
        }
        chunks += pieces.len();
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "ingestion: {chunks} chunks from {} files in {seconds:.2} s = {:.0} chunks/s (extract + chunk + embed)",
        files.len(),
        chunks as f64 / seconds
    );
}

fn random_vector(rng: &mut StdRng) -> Vec<f32> {
    (0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect()
}

async fn search() {
    let n: usize = std::env::var("MIYAGI_BENCH_VECTORS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let (vectors, queries) = if std::env::var("MIYAGI_BENCH_DATA").is_ok_and(|d| d == "random") {
        println!("search: {n} uniformly random vectors");
        let mut rng = StdRng::seed_from_u64(7);
        let mut random = |count| (0..count).map(|_| random_vector(&mut rng)).collect();
        (random(n), random(QUERIES))
    } else {
        println!("search: MiniLM embeddings of {n} sentences of personal-finance text");
        corpus::embedded(n, QUERIES).await
    };
    let entries: Vec<Entry> = vectors
        .into_iter()
        .map(|vector| Entry {
            id: Uuid::new_v4(),
            owner: "alice".into(),
            collection: "default".into(),
            metadata: BTreeMap::new(),
            vector,
        })
        .collect();
    let filter = Filter::owner("alice");

    let exact = ExactIndex::new(DIM);
    exact.upsert(entries.clone()).await.unwrap();
    let (exact_qps, truth) = run(&exact, &queries, &filter).await;
    println!("exact: {exact_qps:.0} QPS over {n} vectors (recall 1.000 by definition)");

    if !skipped("hnsw") {
        hnsw(&entries, &queries, &filter, &truth, exact_qps).await;
    }
    if !skipped("pgvector") {
        pgvector(&entries, &queries, &filter, &truth, exact_qps).await;
    }
}

/// Each graph of `MIYAGI_BENCH_HNSW` (`M:ef_construction` pairs, default `16:128,32:200`, then
/// the shipped default), searched at a sweep of ef_search.
async fn hnsw(
    entries: &[Entry],
    queries: &[Vec<f32>],
    filter: &Filter,
    truth: &[Vec<Hit>],
    exact_qps: f64,
) {
    let n = entries.len();
    let graphs = std::env::var("MIYAGI_BENCH_HNSW").unwrap_or_else(|_| "16:128,32:200".into());
    let mut builds: Vec<HnswSettings> = graphs
        .split(',')
        .map(|pair| {
            let (m, ef) = pair.split_once(':').expect("M:ef_construction");
            HnswSettings {
                max_connections: m.trim().parse().unwrap(),
                ef_construction: ef.trim().parse().unwrap(),
                ..HnswSettings::default()
            }
        })
        .collect();
    builds.push(HnswSettings::default());
    builds.dedup();
    for settings in builds {
        let mut hnsw = HnswIndex::in_memory(DIM, settings).unwrap();
        let started = Instant::now();
        for batch in entries.chunks(10_000) {
            hnsw.upsert(batch.to_vec()).await.unwrap();
        }
        let build = started.elapsed().as_secs_f64();
        println!(
            "hnsw build (M={}, ef_construction={}): {build:.0} s, {:.0} vectors/s",
            settings.max_connections,
            settings.ef_construction,
            n as f64 / build
        );
        for ef_search in [16, 32, 64, 128, 256, 512, 1200] {
            hnsw.set_ef_search(ef_search);
            let (qps, hits) = run(&hnsw, queries, filter).await;
            println!(
                "  ef_search={ef_search}: {qps:.0} QPS, recall@10 {:.3}, {:.1}x exact",
                recall(truth, &hits),
                qps / exact_qps,
            );
        }
    }
}

/// pgvector with the HNSW index built after the load, as one would for a bulk import:
/// `CREATE INDEX` builds in memory with parallel workers, where inserting into an indexed table
/// builds the graph row by row in one backend.
async fn pgvector(
    entries: &[Entry],
    queries: &[Vec<f32>],
    filter: &Filter,
    truth: &[Vec<Hit>],
    exact_qps: f64,
) {
    let settings = HnswSettings::default();
    let url = std::env::var("TEST_PGVECTOR_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5433/miyagi_test".into());
    let schema = format!("bench_{}", Uuid::new_v4().simple());
    // pgvector caps ef_search at 1000.
    match PgVectorIndex::connect(&url, &schema, DIM, settings).await {
        Err(e) => println!("pgvector: skipped ({e}); run scripts/pgvector.sh start"),
        Ok(pg) => {
            let sql = |statement: String| {
                let pool = pg.pool().clone();
                async move { sqlx::query(&statement).execute(&pool).await.unwrap() }
            };
            sql(format!("DROP INDEX {schema}.memory_vectors_embedding")).await;
            let started = Instant::now();
            for batch in entries.chunks(5_000) {
                pg.upsert(batch.to_vec()).await.unwrap();
            }
            let load = started.elapsed().as_secs_f64();
            let started = Instant::now();
            let mut conn = pg.pool().acquire().await.unwrap();
            for statement in [
                "SET maintenance_work_mem = '2GB'".to_string(),
                "SET max_parallel_maintenance_workers = 2".to_string(),
                format!(
                    "CREATE INDEX memory_vectors_embedding ON {schema}.memory_vectors USING hnsw (embedding vector_ip_ops) WITH (m = {}, ef_construction = {})",
                    settings.max_connections, settings.ef_construction
                ),
                // Without statistics the planner does not know one owner holds every row.
                format!("ANALYZE {schema}.memory_vectors"),
            ] {
                sqlx::query(&statement).execute(&mut *conn).await.unwrap();
            }
            drop(conn);
            let build = started.elapsed().as_secs_f64();
            let (qps, hits) = run(&pg, queries, filter).await;
            println!(
                "pgvector hnsw (m={}, ef_construction={}, ef_search={}): {qps:.0} QPS, recall@10 {:.3}, {:.1}x exact; load {load:.0} s, index build {build:.0} s",
                settings.max_connections,
                settings.ef_construction,
                settings.ef_search.min(1000),
                recall(truth, &hits),
                qps / exact_qps
            );
            sql(format!("DROP SCHEMA {schema} CASCADE")).await;
        }
    }
}

async fn run(
    index: &dyn VectorIndex,
    queries: &[Vec<f32>],
    filter: &Filter,
) -> (f64, Vec<Vec<Hit>>) {
    let started = Instant::now();
    let mut all = Vec::with_capacity(queries.len());
    for q in queries {
        all.push(index.search(q, filter, 10).await.unwrap());
    }
    (queries.len() as f64 / started.elapsed().as_secs_f64(), all)
}

fn recall(truth: &[Vec<Hit>], got: &[Vec<Hit>]) -> f64 {
    let (mut found, mut total) = (0, 0);
    for (t, g) in truth.iter().zip(got) {
        let t: HashSet<Uuid> = t.iter().map(|h| h.id).collect();
        found += g.iter().filter(|h| t.contains(&h.id)).count();
        total += t.len();
    }
    found as f64 / total as f64
}
