//! A read-only object store showing one Delta snapshot of a table: it lists exactly the
//! data files the log names at that version and reads them from the lake. Engines list a
//! table through it (DataFusion's listing tables, with their partition pruning and Parquet
//! scans as before), so they never see uncommitted files, files a later commit removed but
//! VACUUM has not deleted yet, or files of a version after the one asked for.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{self, BoxStream};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

#[derive(Debug)]
pub struct SnapshotStore {
    lake: Arc<dyn ObjectStore>,
    /// Full keys (as `lake` addresses them) -> metadata from the log's add actions.
    files: BTreeMap<Path, ObjectMeta>,
    label: String,
}

impl SnapshotStore {
    /// `label` names the table and version in messages (`attribution@12`).
    pub fn new(
        lake: Arc<dyn ObjectStore>,
        files: impl IntoIterator<Item = ObjectMeta>,
        label: impl Into<String>,
    ) -> Self {
        Self {
            lake,
            files: files
                .into_iter()
                .map(|meta| (meta.location.clone(), meta))
                .collect(),
            label: label.into(),
        }
    }

    fn read_only(&self, operation: &str) -> object_store::Error {
        object_store::Error::NotImplemented {
            operation: operation.to_owned(),
            implementer: format!("the read-only snapshot of {}", self.label),
        }
    }

    fn under<'a>(&'a self, prefix: Option<&'a Path>) -> impl Iterator<Item = &'a ObjectMeta> {
        self.files
            .values()
            .filter(move |meta| prefix.is_none_or(|p| meta.location.prefix_matches(p)))
    }
}

impl fmt::Display for SnapshotStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SnapshotStore({})", self.label)
    }
}

#[async_trait]
impl ObjectStore for SnapshotStore {
    async fn put_opts(
        &self,
        _location: &Path,
        _payload: PutPayload,
        _opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        Err(self.read_only("put"))
    }

    async fn put_multipart_opts(
        &self,
        _location: &Path,
        _opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Err(self.read_only("put_multipart"))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        if !self.files.contains_key(location) {
            return Err(object_store::Error::NotFound {
                path: location.to_string(),
                source: format!("not in {}", self.label).into(),
            });
        }
        self.lake.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let error = self.read_only("delete");
        Box::pin(stream::once(async move {
            drop(locations);
            Err(error)
        }))
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let listed: Vec<_> = self.under(prefix).cloned().map(Ok).collect();
        Box::pin(stream::iter(listed))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let depth = prefix.map_or(0, Path::parts_count);
        let mut objects = Vec::new();
        let mut common_prefixes = std::collections::BTreeSet::new();
        for meta in self.under(prefix) {
            if meta.location.parts_count() == depth + 1 {
                objects.push(meta.clone());
            } else {
                let directory: Path = meta.location.parts().take(depth + 1).collect();
                common_prefixes.insert(directory);
            }
        }
        Ok(ListResult {
            common_prefixes: common_prefixes.into_iter().collect(),
            objects,
        })
    }

    async fn copy_opts(
        &self,
        _from: &Path,
        _to: &Path,
        _options: CopyOptions,
    ) -> object_store::Result<()> {
        Err(self.read_only("copy"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;
    use object_store::ObjectStoreExt;
    use object_store::memory::InMemory;

    #[tokio::test]
    async fn lists_and_reads_only_the_snapshot_files() {
        let lake = Arc::new(InMemory::new());
        let mut named = Vec::new();
        for key in [
            "tables/t/tenant=a/date=2026-01-01/part-1.parquet",
            "tables/t/tenant=a/date=2026-01-02/part-2.parquet",
            "tables/t/tenant=a/date=2026-01-02/left-over.parquet",
        ] {
            lake.put(&key.into(), PutPayload::from_static(b"x"))
                .await
                .unwrap();
            if !key.contains("left-over") {
                named.push(lake.head(&key.into()).await.unwrap());
            }
        }
        let view = SnapshotStore::new(lake, named, "t@1");
        let listed: Vec<String> = view
            .list(Some(&"tables/t/tenant=a".into()))
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        assert_eq!(listed.len(), 2, "{listed:?}");
        let dirs = view
            .list_with_delimiter(Some(&"tables/t/tenant=a".into()))
            .await
            .unwrap();
        assert_eq!(dirs.common_prefixes.len(), 2);
        assert!(dirs.objects.is_empty());
        let day = view
            .list_with_delimiter(Some(&"tables/t/tenant=a/date=2026-01-02".into()))
            .await
            .unwrap();
        assert_eq!(day.objects.len(), 1, "the uncommitted file is not listed");
        assert!(
            view.get(&"tables/t/tenant=a/date=2026-01-02/left-over.parquet".into())
                .await
                .is_err()
        );
        assert!(
            view.get(&"tables/t/tenant=a/date=2026-01-01/part-1.parquet".into())
                .await
                .is_ok()
        );
    }
}
