//! Blob storage through `object_store`: its `ObjectStore` trait already is the seam (local folder,
//! S3, Azure Blob, GCS, in-memory), so Miyagi adds only construction from config.

use std::sync::Arc;

use object_store::{local::LocalFileSystem, path::Path, ObjectStore};

use crate::config::Config;

pub type BlobStore = Arc<dyn ObjectStore>;

/// `file` means a `blobs` folder in the data dir; any other value is an object_store URL
/// (`file:///abs`, `s3://bucket/prefix`, `az://container/prefix`) with `blob.options` as settings.
pub fn open(config: &Config) -> anyhow::Result<BlobStore> {
    if config.blob.url == "file" {
        let dir = config.data_dir.join("blobs");
        std::fs::create_dir_all(&dir)?;
        return Ok(Arc::new(LocalFileSystem::new_with_prefix(dir)?));
    }
    let url = url::Url::parse(&config.blob.url).map_err(|e| {
        anyhow::anyhow!("key `blob.url`: expected `file` or a URL such as s3://bucket ({e})")
    })?;
    let options = config
        .blob
        .options
        .iter()
        .map(|(k, v)| (k.clone(), v.expose().to_string()));
    let (store, prefix) = object_store::parse_url_opts(&url, options).map_err(|e| {
        anyhow::anyhow!("key `blob.url`: {e}; is the matching cargo feature (aws/azure) enabled?")
    })?;
    Ok(Arc::new(object_store::prefix::PrefixStore::new(
        store, prefix,
    )))
}

/// Readiness probe: listing a prefix proves the store answers and the credentials work.
pub(crate) async fn probe(store: &BlobStore) -> anyhow::Result<()> {
    use futures::StreamExt;
    let mut listing = store.list(Some(&Path::from("miyagi-readiness")));
    if let Some(Err(e)) = listing.next().await {
        return Err(e.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::PutPayload;

    #[tokio::test]
    async fn the_default_store_keeps_blobs_in_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let store = open(&config).unwrap();
        store
            .put(
                &Path::from("u1/report.txt"),
                PutPayload::from_static(b"hello"),
            )
            .await
            .unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("blobs/u1/report.txt")).unwrap(),
            b"hello"
        );
        probe(&store).await.unwrap();
    }

    #[test]
    fn an_unparseable_url_names_the_key() {
        let mut config = Config::default();
        config.blob.url = "not a url".into();
        let err = open(&config).err().unwrap().to_string();
        assert!(err.contains("blob.url"), "{err}");
    }
}
