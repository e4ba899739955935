//! The cluster's PKI: a CA made on first start, a serving certificate for every local name and
//! address, an admin client certificate, and the kubeconfig that uses them.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

/// Errors while making or loading certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Generating or parsing a certificate or key failed.
    #[error("certificate error: {0}")]
    Cert(#[from] rcgen::Error),
}

/// PEM material of the cluster PKI.
#[derive(Clone, Debug)]
pub struct Pki {
    /// CA certificate (PEM).
    pub ca_cert: String,
    /// CA private key (PEM).
    pub ca_key: String,
    /// Serving certificate (PEM).
    pub serving_cert: String,
    /// Serving key (PEM).
    pub serving_key: String,
    /// Admin client certificate (PEM).
    pub admin_cert: String,
    /// Admin client key (PEM).
    pub admin_key: String,
}

fn read(path: &Path) -> Result<Option<String>, PkiError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PkiError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes `contents` to `path` with mode 0600 (creating parent directories).
pub fn write_private(path: &Path, contents: &str) -> Result<(), PkiError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    f.write_all(contents.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

fn name(cn: &str, org: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    if let Some(o) = org {
        dn.push(DnType::OrganizationName, o);
    }
    dn.push(DnType::CommonName, cn);
    dn
}

fn validity(params: &mut CertificateParams, years: i64) {
    let now = time_now();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(365 * years);
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// Every address and name the serving certificate must cover.
pub fn serving_names() -> (Vec<String>, Vec<IpAddr>) {
    let mut dns = vec![
        "localhost".to_string(),
        "kubernetes".to_string(),
        "kubernetes.default".to_string(),
        "kubernetes.default.svc".to_string(),
    ];
    if let Ok(h) = hostname::get() {
        if let Some(h) = h.to_str() {
            if !h.is_empty() && !dns.iter().any(|d| d == h) {
                dns.push(h.to_string());
            }
        }
    }
    let mut ips: Vec<IpAddr> = vec![
        "127.0.0.1".parse().expect("literal"),
        "::1".parse().expect("literal"),
    ];
    if let Ok(addrs) = if_addrs::get_if_addrs() {
        for a in addrs {
            let ip = a.ip();
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
    }
    (dns, ips)
}

impl Pki {
    /// Loads the CA and admin certificate from `dir`, making them on first start, and issues a fresh
    /// serving certificate for `extra_ips` plus every local name and address.
    pub fn load_or_create(dir: &Path, extra_ips: &[IpAddr]) -> Result<Pki, PkiError> {
        let ca_cert_path = dir.join("ca.crt");
        let ca_key_path = dir.join("ca.key");
        let (ca_cert, ca_key) = match (read(&ca_cert_path)?, read(&ca_key_path)?) {
            (Some(c), Some(k)) => (c, k),
            _ => {
                let key = KeyPair::generate()?;
                let mut params = CertificateParams::new(Vec::<String>::new())?;
                params.distinguished_name = name("skiff-ca", None);
                params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                params.key_usages = vec![
                    KeyUsagePurpose::KeyCertSign,
                    KeyUsagePurpose::CrlSign,
                    KeyUsagePurpose::DigitalSignature,
                ];
                validity(&mut params, 10);
                let cert = params.self_signed(&key)?;
                let (c, k) = (cert.pem(), key.serialize_pem());
                write_private(&ca_key_path, &k)?;
                write_private(&ca_cert_path, &c)?;
                (c, k)
            }
        };
        let ca_keypair = KeyPair::from_pem(&ca_key)?;
        let issuer = Issuer::from_ca_cert_pem(&ca_cert, ca_keypair)?;

        let (dns, mut ips) = serving_names();
        for ip in extra_ips {
            if !ips.contains(ip) {
                ips.push(*ip);
            }
        }
        let serving_key = KeyPair::generate()?;
        let mut params = CertificateParams::new(dns)?;
        for ip in ips {
            params.subject_alt_names.push(SanType::IpAddress(ip));
        }
        params.distinguished_name = name("kube-apiserver", None);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        validity(&mut params, 1);
        let serving = params.signed_by(&serving_key, &issuer)?;
        let serving_cert = serving.pem();
        let serving_key = serving_key.serialize_pem();
        write_private(&dir.join("serving.crt"), &serving_cert)?;
        write_private(&dir.join("serving.key"), &serving_key)?;

        let admin_cert_path = dir.join("admin.crt");
        let admin_key_path = dir.join("admin.key");
        let (admin_cert, admin_key) = match (read(&admin_cert_path)?, read(&admin_key_path)?) {
            (Some(c), Some(k)) => (c, k),
            _ => {
                let (c, k) = issue_client_cert(&issuer, "system:admin", &["system:masters"])?;
                write_private(&admin_key_path, &k)?;
                write_private(&admin_cert_path, &c)?;
                (c, k)
            }
        };
        Ok(Pki {
            ca_cert,
            ca_key,
            serving_cert,
            serving_key,
            admin_cert,
            admin_key,
        })
    }

    /// Issues a client certificate signed by this CA for `user` in `groups`.
    pub fn client_cert(&self, user: &str, groups: &[&str]) -> Result<(String, String), PkiError> {
        let issuer = Issuer::from_ca_cert_pem(&self.ca_cert, KeyPair::from_pem(&self.ca_key)?)?;
        issue_client_cert(&issuer, user, groups)
    }

    /// A kubeconfig for the admin user against `server` (e.g. `https://127.0.0.1:6443`).
    pub fn admin_kubeconfig(&self, server: &str) -> String {
        kubeconfig(server, &self.ca_cert, &self.admin_cert, &self.admin_key)
    }
}

fn issue_client_cert(
    issuer: &Issuer<'_, KeyPair>,
    user: &str,
    groups: &[&str],
) -> Result<(String, String), PkiError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    for g in groups {
        dn.push(DnType::OrganizationName, *g);
    }
    dn.push(DnType::CommonName, user);
    params.distinguished_name = dn;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    validity(&mut params, 1);
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

/// Renders a kubeconfig with embedded certificates.
pub fn kubeconfig(server: &str, ca: &str, cert: &str, key: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: {}\n  name: default\ncontexts:\n- context:\n    cluster: default\n    user: default\n  name: default\ncurrent-context: default\npreferences: {{}}\nusers:\n- name: default\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
        b64(ca),
        server,
        b64(cert),
        b64(key)
    )
}
