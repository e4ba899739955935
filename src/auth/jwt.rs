//! ES256 JSON Web Tokens (compact JWS) signed by the cluster's service-account key, kept as a
//! PKCS#8 PEM in `<data-dir>/tls/service-account.key` and made on first start.
//!
//! `ring` does the cryptography; the JWS framing (two base64url JSON segments and a signature) is
//! a few lines, so no JWT crate is pulled in for it.

use std::path::Path;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The JWS algorithm of every token.
pub const ALGORITHM: &str = "ES256";

/// DER prefix of a P-256 `SubjectPublicKeyInfo` before the 65-byte uncompressed point.
const P256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Errors of key handling and token verification.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// The key file could not be read or written.
    #[error(transparent)]
    Io(#[from] crate::pki::PkiError),
    /// The key is not a usable P-256 PKCS#8 key.
    #[error("service account key: {0}")]
    Key(String),
    /// The token is not a compact JWS of ours.
    #[error("malformed token")]
    Malformed,
    /// The signature does not verify.
    #[error("invalid signature")]
    Signature,
}

/// The signing key with its public half and key ID.
pub struct SigningKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    kid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish()
    }
}

fn pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

impl SigningKey {
    /// Loads the key at `path`, making (and storing, mode 0600) a new P-256 key when absent.
    pub fn load_or_create(path: &Path) -> Result<SigningKey, JwtError> {
        let rng = SystemRandom::new();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|e| JwtError::Key(e.to_string()))?;
                let text = pem(der.as_ref());
                crate::pki::write_private(path, &text)?;
                text
            }
            Err(source) => {
                return Err(JwtError::Io(crate::pki::PkiError::Io {
                    path: path.to_path_buf(),
                    source,
                }))
            }
        };
        SigningKey::from_pem(&text)
    }

    /// A key from a PKCS#8 PEM.
    pub fn from_pem(text: &str) -> Result<SigningKey, JwtError> {
        let key = rustls_pemfile::private_key(&mut text.as_bytes())
            .map_err(|e| JwtError::Key(e.to_string()))?
            .ok_or_else(|| JwtError::Key("no private key in PEM".into()))?;
        let rustls::pki_types::PrivateKeyDer::Pkcs8(der) = key else {
            return Err(JwtError::Key("expected a PKCS#8 P-256 key".into()));
        };
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            der.secret_pkcs8_der(),
            &rng,
        )
        .map_err(|e| JwtError::Key(e.to_string()))?;
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(pair.public_key().as_ref());
        // Upstream's key ID: base64url(SHA-256(PKIX DER of the public key)).
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(&spki));
        Ok(SigningKey { pair, rng, kid })
    }

    /// The key ID (`kid`) written in every token's header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `claims` into a compact JWS.
    pub fn sign(&self, claims: &Value) -> Result<String, JwtError> {
        let header = json!({"alg": ALGORITHM, "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self
            .pair
            .sign(&self.rng, input.as_bytes())
            .map_err(|e| JwtError::Key(e.to_string()))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref())))
    }

    /// Verifies a token's signature and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Value, JwtError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let decode = |seg: &str| URL_SAFE_NO_PAD.decode(seg).map_err(|_| JwtError::Malformed);
        let header: Value = serde_json::from_slice(&decode(h)?).map_err(|_| JwtError::Malformed)?;
        if header.get("alg").and_then(Value::as_str) != Some(ALGORITHM) {
            return Err(JwtError::Signature);
        }
        if let Some(kid) = header.get("kid").and_then(Value::as_str) {
            if kid != self.kid {
                return Err(JwtError::Signature);
            }
        }
        let sig = decode(s)?;
        let public =
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.pair.public_key().as_ref());
        public
            .verify(format!("{h}.{p}").as_bytes(), &sig)
            .map_err(|_| JwtError::Signature)?;
        serde_json::from_slice(&decode(p)?).map_err(|_| JwtError::Malformed)
    }

    /// The public key as a JSON Web Key Set (`/openid/v1/jwks`).
    pub fn jwks(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        let (x, y) = if point.len() == 65 {
            (&point[1..33], &point[33..65])
        } else {
            (&point[0..0], &point[0..0])
        };
        json!({"keys": [{
            "use": "sig",
            "kty": "EC",
            "kid": self.kid,
            "crv": "P-256",
            "alg": ALGORITHM,
            "x": URL_SAFE_NO_PAD.encode(x),
            "y": URL_SAFE_NO_PAD.encode(y),
        }]})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_reload() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sa.key");
        let key = SigningKey::load_or_create(&path).expect("key");
        let token = key.sign(&json!({"sub": "x"})).expect("sign");
        assert_eq!(key.verify(&token).expect("verify")["sub"], "x");
        let again = SigningKey::load_or_create(&path).expect("reload");
        assert_eq!(again.kid(), key.kid());
        assert!(again.verify(&token).is_ok());
        let parts: Vec<&str> = token.split('.').collect();
        let other = URL_SAFE_NO_PAD.encode(json!({"sub": "y"}).to_string());
        let forged = format!("{}.{other}.{}", parts[0], parts[2]);
        assert!(key.verify(&forged).is_err());
        assert!(key.verify("a.b").is_err());
        assert_eq!(key.jwks()["keys"][0]["crv"], "P-256");
    }
}
