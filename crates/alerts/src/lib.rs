//! Delivering one alert to one target: an e-mail over SMTP, or a webhook
//! in Lectern's own JSON, the Slack-compatible form (which Mattermost and
//! Discord's `/slack` endpoint also take), or ntfy's. When to send is the
//! application's business; this crate only sends, and says why it could not.
//!
//! Targets carry secrets (the SMTP password; a webhook's URL is a secret
//! itself), so they come from the configuration only, their `Debug` shows
//! none of them, and neither does any error.

mod message;
mod target;

pub use message::{rfc3339, Alert, Notice};
pub use target::{Format, Security, Smtp, Target, Webhook};

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;

/// Why a delivery failed, in words that hold no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SendError(pub String);

/// Sends alerts; one per running Lectern, holding the HTTP client.
#[derive(Clone)]
pub struct Sender {
    http: reqwest::Client,
    timeout: Duration,
}

impl Sender {
    /// Each delivery gives up after `timeout` (and is retried later).
    pub fn new(timeout: Duration) -> Result<Sender, SendError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("lectern/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SendError(format!("cannot start the HTTP client: {e}")))?;
        Ok(Sender { http, timeout })
    }

    pub async fn send(&self, target: &Target, alert: &Alert) -> Result<(), SendError> {
        match target {
            Target::Smtp(smtp) => self.mail(smtp, alert).await,
            Target::Webhook(hook) => self.post(hook, alert).await,
        }
    }

    async fn mail(&self, smtp: &Smtp, alert: &Alert) -> Result<(), SendError> {
        let message = message::email(smtp, alert)?;
        let port = smtp.port();
        let tls = |host: &str| {
            TlsParameters::new(host.to_owned())
                .map_err(|e| SendError(format!("cannot set up TLS for {host}: {e}")))
        };
        let tls = match smtp.security {
            Security::Starttls => Tls::Required(tls(&smtp.host)?),
            Security::Tls => Tls::Wrapper(tls(&smtp.host)?),
            Security::None => Tls::None,
        };
        let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(port)
            .tls(tls)
            .timeout(Some(self.timeout));
        if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
            transport = transport.credentials(Credentials::new(user.clone(), password.clone()));
        }
        transport
            .build()
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| SendError(format!("SMTP {}:{port}: {e}", smtp.host)))
    }

    async fn post(&self, hook: &Webhook, alert: &Alert) -> Result<(), SendError> {
        let (url, body) = message::webhook(hook, alert)?;
        let answer = self
            .http
            .post(url)
            .json(&body)
            .send()
            .await
            // The URL is a secret: never in an error.
            .map_err(|e| SendError(format!("{}: {}", hook.label(), e.without_url())))?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        Err(SendError(format!("{} answered {status}", hook.label())))
    }
}
