//! Where a report's three files are kept: the [`ReportFiles`] port and its adapters, a
//! directory ([`DirReportFiles`], `herald serve`), memory ([`MemoryReportFiles`], tests) and an S3
//! bucket (`S3ReportFiles`, the Lambda functions; only with the `aws` feature). A key is
//! `reports/<team>/<report id>/<file name>`.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
#[error("report files: {0}")]
pub struct FilesError(pub String);

/// Where report files are kept: the data directory locally, an S3 bucket on AWS.
#[async_trait]
pub trait ReportFiles: Send + Sync {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), FilesError>;
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, FilesError>;
}

/// Files under a directory: key `reports/<team>/<id>/report.html` is that path below it.
pub struct DirReportFiles {
    root: std::path::PathBuf,
}

impl DirReportFiles {
    pub fn new(root: impl Into<std::path::PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, key: &str) -> Result<std::path::PathBuf, FilesError> {
        let ok = !key.is_empty()
            && key.split('/').all(|p| !p.is_empty() && p != "." && p != ".." && !p.contains('\\'));
        if !ok {
            return Err(FilesError(format!("`{key}` is not a report file key")));
        }
        Ok(self.root.join(key))
    }
}

#[async_trait]
impl ReportFiles for DirReportFiles {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), FilesError> {
        let path = self.path(key)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(|e| FilesError(e.to_string()))?;
        }
        let tmp = path.with_extension("tmp");
        tokio::fs::write(&tmp, bytes).await.map_err(|e| FilesError(e.to_string()))?;
        tokio::fs::rename(&tmp, &path).await.map_err(|e| FilesError(e.to_string()))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, FilesError> {
        match tokio::fs::read(self.path(key)?).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(FilesError(e.to_string())),
        }
    }
}

/// Files kept in memory (tests, and hosts that have not set a place).
#[derive(Default)]
pub struct MemoryReportFiles(Mutex<HashMap<String, Vec<u8>>>);

#[async_trait]
impl ReportFiles for MemoryReportFiles {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), FilesError> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key.to_owned(), bytes);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, FilesError> {
        Ok(self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(key).cloned())
    }
}

/// Report files in an S3 bucket (private, encrypted by the bucket's default; see template.yaml).
#[cfg(feature = "aws")]
pub struct S3ReportFiles {
    client: aws_sdk_s3::Client,
    bucket: String,
}

#[cfg(feature = "aws")]
impl S3ReportFiles {
    /// Files in `bucket` through `client` (whose configuration says how buckets are addressed).
    pub fn new(client: aws_sdk_s3::Client, bucket: String) -> Self {
        Self { client, bucket }
    }
}

#[cfg(feature = "aws")]
#[async_trait]
impl ReportFiles for S3ReportFiles {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), FilesError> {
        let content_type = match key.rsplit('.').next() {
            Some("html") => "text/html; charset=utf-8",
            Some("csv") => "text/csv; charset=utf-8",
            _ => "application/json",
        };
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(bytes.into())
            .send()
            .await
            .map(drop)
            .map_err(|e| FilesError(format!("S3 PutObject {key}: {}", aws_sdk_s3::error::DisplayErrorContext(e))))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, FilesError> {
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => out
                .body
                .collect()
                .await
                .map(|b| Some(b.into_bytes().to_vec()))
                .map_err(|e| FilesError(format!("S3 GetObject {key}: {e}"))),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => Ok(None),
            Err(e) => Err(FilesError(format!("S3 GetObject {key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)))),
        }
    }
}
