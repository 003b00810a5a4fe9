//! Datasets bundled in the binary: folders of documents under `datasets/`, each folder a
//! dataset. The default one, `investing-principles`, was written for Miyagi and is what the
//! advisor grounds its explanations on.

use include_dir::{include_dir, Dir};
use serde::Serialize;
use utoipa::ToSchema;

static DATASETS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/datasets");

/// The dataset the advisor grounds on, and the collection it is ingested into by default.
pub const DEFAULT: &str = "investing-principles";

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatasetInfo {
    pub name: String,
    /// The first paragraph of the dataset's README.
    pub description: String,
    pub documents: usize,
}

/// A bundled document: its file name and content.
pub struct BundledFile {
    pub name: &'static str,
    pub content: &'static [u8],
}

pub fn list() -> Vec<DatasetInfo> {
    let mut all: Vec<DatasetInfo> = DATASETS
        .dirs()
        .filter_map(|d| {
            let name = d.path().file_name()?.to_str()?;
            Some(DatasetInfo {
                name: name.to_string(),
                description: description(d),
                documents: documents(d).len(),
            })
        })
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

/// The documents of dataset `name` (its README excluded), or `None` if there is no such dataset.
pub fn files(name: &str) -> Option<Vec<BundledFile>> {
    DATASETS.get_dir(name).map(documents)
}

fn documents(dir: &'static Dir<'static>) -> Vec<BundledFile> {
    let mut files: Vec<BundledFile> = dir
        .files()
        .filter_map(|f| {
            let name = f.path().file_name()?.to_str()?;
            (name != "README.md").then_some(BundledFile {
                name,
                content: f.contents(),
            })
        })
        .collect();
    files.sort_by_key(|f| f.name);
    files
}

fn description(dir: &Dir<'static>) -> String {
    let readme = dir
        .get_file(dir.path().join("README.md"))
        .and_then(|f| f.contents_utf8())
        .unwrap_or("");
    readme
        .split("\n\n")
        .map(str::trim)
        .find(|p| !p.is_empty() && !p.starts_with('#'))
        .unwrap_or("")
        .replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_dataset_is_bundled_with_a_description() {
        let info = list().into_iter().find(|d| d.name == DEFAULT).unwrap();
        assert!(info.documents >= 10, "{info:?}");
        assert!(info.description.len() > 40, "{info:?}");
        let bundled = files(DEFAULT).unwrap();
        assert!(bundled.iter().all(|f| f.name.ends_with(".md")));
        assert!(files("nope").is_none());
    }
}
