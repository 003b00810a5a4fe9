//! pgvector: vectors in a PostgreSQL table with an HNSW index (cosine). Owner, collection and
//! metadata are `WHERE` clauses of the same query, and with pgvector ≥ 0.8 the index scan keeps
//! going until it has `k` rows that pass them (`hnsw.iterative_scan`), so filters never starve
//! the result.

use std::collections::HashSet;

use async_trait::async_trait;
use pgvector::Vector;
use sqlx::{postgres::PgPoolOptions, Executor, PgPool, QueryBuilder, Row};
use uuid::Uuid;

use super::{
    check_dimensions, normalised, Entry, Filter, Hit, HnswSettings, IndexError, VectorIndex,
};

/// Rows per INSERT statement when upserting in bulk (PostgreSQL allows 65535 parameters).
const ROWS_PER_STATEMENT: usize = 1_000;

pub struct PgVectorIndex {
    pool: PgPool,
    dimensions: usize,
    settings: HnswSettings,
    /// pgvector 0.8 added iterative index scans; older servers get a larger `ef_search` instead.
    iterative_scan: bool,
}

impl PgVectorIndex {
    /// Connects and creates, if absent, the `vector` extension and the table and index in
    /// `schema`.
    pub async fn connect(
        url: &str,
        schema: &str,
        dimensions: usize,
        settings: HnswSettings,
    ) -> Result<Self, IndexError> {
        if !schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(IndexError::Storage(format!(
                "schema `{schema}` must be letters, digits and underscores"
            )));
        }
        let search_path = format!("SET search_path TO {schema}, public");
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .after_connect(move |conn, _| {
                let search_path = search_path.clone();
                Box::pin(async move {
                    conn.execute(search_path.as_str()).await?;
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        pool.execute("CREATE EXTENSION IF NOT EXISTS vector")
            .await?;
        pool.execute(format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str())
            .await?;
        // pgvector's own bounds: m in 2..=100, ef_construction in 4..=1000 and at least 2m.
        let m = settings.max_connections.clamp(2, 100);
        let ef_construction = settings.ef_construction.clamp(4, 1000).max(2 * m);
        pool.execute(
            format!(
                "CREATE TABLE IF NOT EXISTS {schema}.memory_vectors (
                     id uuid PRIMARY KEY,
                     owner text NOT NULL,
                     collection text NOT NULL,
                     metadata jsonb NOT NULL DEFAULT '{{}}',
                     embedding vector({dimensions}) NOT NULL
                 );
                 CREATE INDEX IF NOT EXISTS memory_vectors_embedding
                     ON {schema}.memory_vectors USING hnsw (embedding vector_ip_ops)
                     WITH (m = {m}, ef_construction = {ef_construction});
                 CREATE INDEX IF NOT EXISTS memory_vectors_owner
                     ON {schema}.memory_vectors (owner, collection);"
            )
            .as_str(),
        )
        .await?;
        let version: String =
            sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
                .fetch_one(&pool)
                .await?;
        let iterative_scan = version_at_least(&version, (0, 8));
        Ok(Self {
            pool,
            dimensions,
            settings,
            iterative_scan,
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn version_at_least(version: &str, (major, minor): (u32, u32)) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    found >= (major, minor)
}

#[async_trait]
impl VectorIndex for PgVectorIndex {
    fn name(&self) -> &'static str {
        "pgvector"
    }

    async fn upsert(&self, entries: Vec<Entry>) -> Result<(), IndexError> {
        for e in &entries {
            check_dimensions(self.dimensions, &e.vector)?;
        }
        let mut tx = self.pool.begin().await?;
        for batch in entries.chunks(ROWS_PER_STATEMENT) {
            let mut insert = QueryBuilder::new(
                "INSERT INTO memory_vectors (id, owner, collection, metadata, embedding) ",
            );
            insert.push_values(batch, |mut row, e| {
                row.push_bind(e.id)
                    .push_bind(&e.owner)
                    .push_bind(&e.collection)
                    .push_bind(sqlx::types::Json(&e.metadata))
                    .push_bind(Vector::from(normalised(e.vector.clone())));
            });
            insert.push(
                " ON CONFLICT (id) DO UPDATE SET owner = EXCLUDED.owner, collection = EXCLUDED.collection,
                  metadata = EXCLUDED.metadata, embedding = EXCLUDED.embedding",
            );
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn remove(&self, ids: &[Uuid]) -> Result<(), IndexError> {
        sqlx::query("DELETE FROM memory_vectors WHERE id = ANY($1)")
            .bind(ids)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn search(
        &self,
        query: &[f32],
        filter: &Filter,
        k: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        check_dimensions(self.dimensions, query)?;
        let mut tx = self.pool.begin().await?;
        // SET cannot take bind parameters; both values are integers we control.
        tx.execute(
            format!(
                "SET LOCAL hnsw.ef_search = {}",
                self.settings.ef_search.clamp(k, 1000)
            )
            .as_str(),
        )
        .await?;
        if self.iterative_scan {
            tx.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                .await?;
        }
        // The statement is prepared, and after five runs PostgreSQL may keep a generic plan
        // made for an average owner: the owner index and a sort, an exact scan of every vector
        // the owner has. Planned for this owner, a large collection walks the HNSW graph.
        tx.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            .await?;
        // Vectors are unit length, so the negative inner product (`<#>`) orders like cosine.
        let rows = sqlx::query(
            "SELECT id, -(embedding <#> $1) AS score FROM memory_vectors
             WHERE owner = $2 AND ($3::text IS NULL OR collection = $3) AND metadata @> $4
             ORDER BY embedding <#> $1 LIMIT $5",
        )
        .bind(Vector::from(normalised(query.to_vec())))
        .bind(&filter.owner)
        .bind(filter.collection.as_deref())
        .bind(sqlx::types::Json(&filter.metadata))
        .bind(k as i64)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut hits = rows
            .iter()
            .map(|r| {
                Ok(Hit {
                    id: r.try_get("id")?,
                    score: r.try_get::<f64, _>("score")? as f32,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        // relaxed_order may return rows slightly out of order.
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(hits)
    }

    async fn ids(&self) -> Result<HashSet<Uuid>, IndexError> {
        Ok(sqlx::query_scalar("SELECT id FROM memory_vectors")
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_compare_numerically() {
        assert!(super::version_at_least("0.8.0", (0, 8)));
        assert!(super::version_at_least("0.10.1", (0, 8)));
        assert!(!super::version_at_least("0.7.4", (0, 8)));
    }
}
