//! Encryption secrets. They come from the environment or from files it
//! names, never from the database, a manifest or a log: `Debug` shows only
//! which ones are set.
//!
//! - `LECTERN_BACKUP_RECIPIENTS` (age public keys `age1…`, comma-separated)
//!   or `LECTERN_BACKUP_RECIPIENTS_FILE` (one a line, `#` comments): new
//!   archives are encrypted to these keys.
//! - `LECTERN_BACKUP_PASSPHRASE` or `LECTERN_BACKUP_PASSPHRASE_FILE`: new
//!   archives are encrypted with it when no recipients are set, and it
//!   decrypts archives made with it.
//! - `LECTERN_BACKUP_IDENTITY_FILE`: an age identity file (`AGE-SECRET-KEY-1…`)
//!   that decrypts archives made for its public key.

use crate::manifest::Encryption;
use crate::BackupError;
use age::secrecy::{ExposeSecret, SecretString};
use age::x25519;
use std::fmt;
use std::str::FromStr;

/// scrypt's work factor for new passphrase archives: 2^18 (256 MiB, about a
/// second), and the most accepted when reading one: 2^20 (1 GiB). A hostile
/// archive can ask for more; it is refused rather than let eat the memory.
pub(crate) const SCRYPT_LOG_N: u8 = 18;
const SCRYPT_MAX_LOG_N: u8 = 20;

#[derive(Clone, Default)]
pub struct Secrets {
    passphrase: Option<SecretString>,
    recipients: Vec<x25519::Recipient>,
    /// The identity file's text, parsed when needed (identities do not clone).
    identities: Option<SecretString>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("passphrase", &self.passphrase.as_ref().map(|_| "<set>"))
            .field("recipients", &self.recipients.len())
            .field("identities", &self.identities.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Secrets {
    /// No encryption, and no way to read an encrypted archive.
    pub fn none() -> Secrets {
        Secrets::default()
    }

    /// From the `LECTERN_BACKUP_*` environment variables (module doc).
    pub fn from_env() -> Result<Secrets, BackupError> {
        Secrets::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`Secrets::from_env`], with the variables looked up by `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Secrets, BackupError> {
        let passphrase = value_or_file(&var, "LECTERN_BACKUP_PASSPHRASE")?
            .map(|text| text.strip_suffix('\n').unwrap_or(&text).to_owned())
            .map(|text| text.strip_suffix('\r').unwrap_or(&text).to_owned());
        let mut secrets = Secrets::none();
        if let Some(passphrase) = passphrase {
            secrets = secrets.with_passphrase(&passphrase)?;
        }
        if let Some(list) = value_or_file(&var, "LECTERN_BACKUP_RECIPIENTS")? {
            let keys = list
                .split([',', '\n'])
                .map(|line| line.split('#').next().unwrap_or("").trim())
                .filter(|key| !key.is_empty());
            secrets = secrets.with_recipients(keys)?;
        }
        if let Some(file) = var("LECTERN_BACKUP_IDENTITY_FILE").filter(|f| !f.is_empty()) {
            let text = std::fs::read_to_string(&file).map_err(|e| {
                BackupError::BadSecrets(format!(
                    "cannot read LECTERN_BACKUP_IDENTITY_FILE {file:?}: {e}"
                ))
            })?;
            secrets = secrets.with_identities(&text)?;
        }
        Ok(secrets)
    }

    pub fn with_passphrase(mut self, passphrase: &str) -> Result<Secrets, BackupError> {
        if passphrase.is_empty() {
            return Err(BackupError::BadSecrets("the passphrase is empty".into()));
        }
        self.passphrase = Some(SecretString::from(passphrase.to_owned()));
        Ok(self)
    }

    /// Public keys (`age1…`) that new archives are encrypted to.
    pub fn with_recipients<'a>(
        mut self,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Result<Secrets, BackupError> {
        for (i, key) in keys.into_iter().enumerate() {
            // The text is not echoed: it might be a secret key pasted by
            // mistake.
            let recipient = x25519::Recipient::from_str(key).map_err(|_| {
                BackupError::BadSecrets(format!(
                    "recipient {} is not an age public key (age1…)",
                    i + 1
                ))
            })?;
            self.recipients.push(recipient);
        }
        Ok(self)
    }

    /// The text of an age identity file (`AGE-SECRET-KEY-1…` lines).
    pub fn with_identities(mut self, text: &str) -> Result<Secrets, BackupError> {
        let found = parse_identities(text)?;
        if found.is_empty() {
            return Err(BackupError::BadSecrets(
                "the identity file holds no age secret key".into(),
            ));
        }
        self.identities = Some(SecretString::from(text.to_owned()));
        Ok(self)
    }

    /// How new archives are encrypted: to the recipients when there are
    /// any, else with the passphrase, else not at all.
    pub fn encryption(&self) -> Encryption {
        if !self.recipients.is_empty() {
            Encryption::Recipients
        } else if self.passphrase.is_some() {
            Encryption::Passphrase
        } else {
            Encryption::None
        }
    }

    pub(crate) fn encryptor(&self) -> Result<Option<age::Encryptor>, BackupError> {
        let failed = |e: age::EncryptError| BackupError::BadSecrets(e.to_string());
        match self.encryption() {
            Encryption::None => Ok(None),
            Encryption::Recipients => {
                let recipients = self.recipients.iter().map(|r| r as &dyn age::Recipient);
                age::Encryptor::with_recipients(recipients)
                    .map(Some)
                    .map_err(failed)
            }
            Encryption::Passphrase => {
                let Some(passphrase) = self.passphrase.clone() else {
                    return Ok(None);
                };
                let mut recipient = age::scrypt::Recipient::new(passphrase);
                recipient.set_work_factor(SCRYPT_LOG_N);
                age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                    .map(Some)
                    .map_err(failed)
            }
        }
    }

    /// What can decrypt an archive encrypted as `encryption`.
    pub(crate) fn identities(
        &self,
        encryption: Encryption,
    ) -> Result<Vec<Box<dyn age::Identity>>, BackupError> {
        match encryption {
            Encryption::None => Ok(Vec::new()),
            Encryption::Passphrase => {
                let passphrase = self.passphrase.clone().ok_or(BackupError::SecretMissing(
                    "passphrase",
                    "set LECTERN_BACKUP_PASSPHRASE or LECTERN_BACKUP_PASSPHRASE_FILE",
                ))?;
                let mut identity = age::scrypt::Identity::new(passphrase);
                identity.set_max_work_factor(SCRYPT_MAX_LOG_N);
                Ok(vec![Box::new(identity)])
            }
            Encryption::Recipients => {
                let text = self.identities.as_ref().ok_or(BackupError::SecretMissing(
                    "public key",
                    "set LECTERN_BACKUP_IDENTITY_FILE to the matching age identity file",
                ))?;
                parse_identities(text.expose_secret())
            }
        }
    }
}

fn parse_identities(text: &str) -> Result<Vec<Box<dyn age::Identity>>, BackupError> {
    let bad = || BackupError::BadSecrets("the identity file is not an age identity file".into());
    let file = age::IdentityFile::from_buffer(text.as_bytes()).map_err(|_| bad())?;
    let identities = file.into_identities().map_err(|_| bad())?;
    Ok(identities
        .into_iter()
        .map(|i| i as Box<dyn age::Identity>)
        .collect())
}

/// `NAME`, or the contents of the file `NAME_FILE`; both set is an error.
fn value_or_file(
    var: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> Result<Option<String>, BackupError> {
    let file_var = format!("{name}_FILE");
    let value = var(name).filter(|v| !v.is_empty());
    let file = var(&file_var).filter(|v| !v.is_empty());
    match (value, file) {
        (Some(_), Some(_)) => Err(BackupError::BadSecrets(format!(
            "set {name} or {file_var}, not both"
        ))),
        (Some(value), None) => Ok(Some(value)),
        (None, Some(file)) => std::fs::read_to_string(&file)
            .map(Some)
            .map_err(|e| BackupError::BadSecrets(format!("cannot read {file_var} {file:?}: {e}"))),
        (None, None) => Ok(None),
    }
}
