//! Where alerts go, as the configuration gives them.

use serde::{Deserialize, Serialize};

/// One place alerts are delivered to.
#[derive(Clone)]
pub enum Target {
    Smtp(Smtp),
    Webhook(Webhook),
}

impl Target {
    /// How the admin area names it: no password, no webhook path.
    pub fn label(&self) -> String {
        match self {
            Target::Smtp(smtp) => smtp.label(),
            Target::Webhook(hook) => hook.label(),
        }
    }

    /// Whether it can be used, in words when it cannot.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Target::Smtp(smtp) => smtp.check(),
            Target::Webhook(hook) => hook.check(),
        }
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: a relay on this machine or a trusted network (port 25).
    None,
}

/// E-mail over SMTP (`[alerts.smtp]`).
#[derive(Clone, Serialize, Deserialize)]
pub struct Smtp {
    pub host: String,
    /// Default: 587 with STARTTLS, 465 with TLS, 25 with none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Security,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing)]
    pub password: Option<String>,
    /// The sender, like `Lectern <lectern@example.org>`.
    pub from: String,
    /// One or more recipients.
    pub to: Vec<String>,
}

impl Smtp {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            Security::Starttls => 587,
            Security::Tls => 465,
            Security::None => 25,
        })
    }

    pub fn label(&self) -> String {
        format!(
            "e-mail to {} via {}:{}",
            self.to.join(", "),
            self.host,
            self.port()
        )
    }

    fn check(&self) -> Result<(), String> {
        if self.host.trim().is_empty() {
            return Err("alerts.smtp.host is empty".into());
        }
        if self.to.is_empty() {
            return Err("alerts.smtp.to names no recipient".into());
        }
        for address in std::iter::once(&self.from).chain(&self.to) {
            address
                .parse::<lettre::message::Mailbox>()
                .map_err(|e| format!("alerts.smtp: {address:?} is not an e-mail address: {e}"))?;
        }
        if self.username.is_some() != self.password.is_some() {
            return Err("alerts.smtp: give both username and password, or neither".into());
        }
        Ok(())
    }
}

/// The body a webhook is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Lectern's own JSON (docs/monitoring.md).
    #[default]
    Json,
    /// `{"text": …}`: Slack, Mattermost, Discord's `/slack` endpoint.
    Slack,
    /// ntfy's JSON publishing; the URL is the topic's (`https://ntfy.sh/TOPIC`).
    Ntfy,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Slack => "slack",
            Format::Ntfy => "ntfy",
        }
    }
}

/// A webhook (`[[alerts.webhooks]]`). Its URL is a secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct Webhook {
    #[serde(skip_serializing)]
    pub url: String,
    #[serde(default)]
    pub format: Format,
    /// How the admin area names it; default its format and host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Webhook {
    pub fn label(&self) -> String {
        let host = reqwest::Url::parse(&self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "?".into());
        match &self.name {
            Some(name) => format!("webhook {name:?} ({}, {host})", self.format.as_str()),
            None => format!("{} webhook at {host}", self.format.as_str()),
        }
    }

    pub(crate) fn parsed_url(&self) -> Result<reqwest::Url, String> {
        let url = reqwest::Url::parse(&self.url)
            .map_err(|e| format!("a webhook's url does not parse: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err("a webhook's url must be http:// or https:// with a host".into());
        }
        Ok(url)
    }

    fn check(&self) -> Result<(), String> {
        let url = self.parsed_url()?;
        let topic = url.path_segments().and_then(|mut s| s.next_back());
        if self.format == Format::Ntfy && topic.is_none_or(str::is_empty) {
            return Err("an ntfy webhook's url names its topic: https://HOST/TOPIC".into());
        }
        Ok(())
    }
}
