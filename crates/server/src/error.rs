//! Every failure of the API, mapped to its status and envelope in one place:
//! `{"error":{"code","message"}}`.

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use lectern_app::AppError;
use lectern_store::StoreError;
use serde::de::DeserializeOwned;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("sign in first")]
    Unauthorized,
    #[error("wrong username or password")]
    BadCredentials,
    #[error("this needs an administrator")]
    Forbidden,
    #[error("this request did not come from Lectern's own pages; reload the page and try again")]
    CsrfRejected,
    #[error("not found")]
    NotFound,
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    /// Understood, but refused for what it holds (a backup archive that is
    /// not sound); `code` says why.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// `If-Match` or `If-Unmodified-Since` named another version.
    #[error("the file is not the version the request names")]
    PreconditionFailed,
    #[error("the requested range is not satisfiable")]
    RangeNotSatisfiable,
    /// Too many sign-ins for this account or address, or too many at once
    /// for this server: try again after `retry_after`.
    #[error("too many sign-ins; try again in {} s", retry_seconds(*retry_after))]
    TooManyAttempts { retry_after: std::time::Duration },
    #[error("Lectern is in maintenance ({0}); try again shortly")]
    Maintenance(String),
    /// This server's disk lacks the room for the work asked (unpacking a
    /// backup): 503, as the request may succeed once space is freed.
    #[error("{0}")]
    InsufficientStorage(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::BadCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::CsrfRejected => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
            ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Maintenance(_) | ApiError::InsufficientStorage(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::BadCredentials => "bad_credentials",
            ApiError::Forbidden => "forbidden",
            ApiError::CsrfRejected => "csrf_rejected",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooLarge(_) => "too_large",
            ApiError::Unprocessable { code, .. } => code,
            ApiError::PreconditionFailed => "precondition_failed",
            ApiError::RangeNotSatisfiable => "range_not_satisfiable",
            ApiError::TooManyAttempts { .. } => "too_many_attempts",
            ApiError::Maintenance(_) => "maintenance",
            ApiError::InsufficientStorage(_) => "insufficient_storage",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(message) => ApiError::Conflict(message),
            StoreError::NotFound => ApiError::NotFound,
            // The log line gets every cause, the backend's own included.
            other => ApiError::Internal(chain(&other)),
        }
    }
}

/// The use cases' errors, as the API answers them; an internal one goes to
/// the log with its causes, and to the client as `internal` only.
impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(message) | AppError::Declined(message) => {
                ApiError::BadRequest(message)
            }
            AppError::NotFound(_) => ApiError::NotFound,
            AppError::Conflict(message) | AppError::Busy(message) => ApiError::Conflict(message),
            AppError::BadCredentials => ApiError::BadCredentials,
            AppError::Forbidden => ApiError::Forbidden,
            AppError::TooManyAttempts { retry_after } => ApiError::TooManyAttempts { retry_after },
            AppError::Unprocessable { code, message } => ApiError::Unprocessable { code, message },
            AppError::Maintenance(reason) => ApiError::Maintenance(reason),
            AppError::NoSpace(message) => ApiError::InsufficientStorage(message),
            e @ (AppError::Damaged(_) | AppError::Internal { .. }) => ApiError::Internal(e.chain()),
        }
    }
}

impl From<lectern_backup::BackupError> for ApiError {
    fn from(e: lectern_backup::BackupError) -> Self {
        AppError::from(e).into()
    }
}

/// An error and the causes below it, for a log line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

/// The stable code of an error answer, kept on the response for the audit
/// log, which never reads a body.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

/// Every error's body: `{"error":{"code","message"}}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, for programs: `bad_request`, `unauthorized`, `bad_credentials`,
    /// `forbidden`, `csrf_rejected`, `not_found`, `method_not_allowed`,
    /// `conflict`, `too_large`, `precondition_failed`,
    /// `range_not_satisfiable`, `too_many_attempts`, `maintenance`,
    /// `insufficient_storage`, `internal`, and for a refused backup
    /// archive the reason (see the operation).
    #[schema(example = "not_found")]
    pub code: &'static str,
    /// For people; may change.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!("internal error: {detail}");
        }
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: self.code(),
                message: self.to_string(),
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        self.add_retry_after(&mut response);
        // For the audit log, which never reads an answer's body.
        response.extensions_mut().insert(ErrorCode(self.code()));
        response
    }
}

impl ApiError {
    /// When trying again makes sense, say when (seconds).
    pub(crate) fn add_retry_after(&self, response: &mut Response) {
        let seconds = match self {
            ApiError::TooManyAttempts { retry_after } => retry_seconds(*retry_after),
            ApiError::Maintenance(_) => 30,
            _ => return,
        };
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(seconds),
        );
    }
}

/// Whole seconds, rounded up, at least one: `Retry-After: 0` would invite
/// an immediate retry that is refused again.
fn retry_seconds(wait: std::time::Duration) -> u64 {
    let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    whole.max(1)
}

/// JSON bodies that do not parse are the client's mistake: 400 with the
/// envelope, not axum's plain-text 422; one over the body limit is 413
/// `too_large`.
pub struct JsonBody<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(body_refused(rejection.status(), rejection.body_text())),
        }
    }
}

/// A body axum would not take: too large (axum's `LengthLimitError`,
/// which it answers 413) or else malformed.
pub(crate) fn body_refused(status: StatusCode, text: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(text),
        _ => ApiError::BadRequest(text),
    }
}

/// Ids in the path. Anything that is not an id names nothing, so it is a
/// 404 with the envelope rather than axum's plain-text 400.
pub struct Ids<T>(pub T);

impl<T, S> FromRequestParts<S> for Ids<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(ids)) => Ok(Ids(ids)),
            Err(_) => Err(ApiError::NotFound),
        }
    }
}

/// Query parameters that do not parse are the client's mistake: 400 with
/// the envelope, not axum's plain text.
pub struct QueryParams<T>(pub T);

impl<T, S> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(params)) => Ok(QueryParams(params)),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}
