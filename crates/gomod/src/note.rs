//! Signed notes, the envelope the checksum database signs its tree heads in
//! (`golang.org/x/mod/sumdb/note`).
//!
//! # The format
//!
//! A signed note is UTF-8 text with no ASCII control character other than
//! newline. It is the note's text, which ends in a newline, then a blank
//! line, then one or more signature lines:
//!
//! ```text
//! go.sum database tree
//! 6476701
//! mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=
//!
//! — sum.golang.org Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=
//! ```
//!
//! A signature line is an em dash (U+2014), a space, the key's name, a space,
//! and the standard padded base64 of the 4-byte key hash (big-endian)
//! followed by the signature of the text (the text includes its final
//! newline but not the blank line).
//!
//! # Keys
//!
//! A key is named (by convention the host and path of its log) and
//! identified by a 32-bit hash: the first four bytes, big-endian, of
//! SHA-256(name + "\n" + key data). Key data is an algorithm byte followed by
//! the key; the only algorithm is Ed25519 (byte 1, 32-byte key).
//!
//! * A verifier key, which is public, is `<name>+<hash>+<keydata>`, with the
//!   hash as eight hexadecimal digits and the key data in padded base64,
//!   for example [`SUM_GOLANG_ORG_KEY`].
//! * A signer key, which must stay secret, is
//!   `PRIVATE+KEY+<name>+<hash>+<keydata>`, where the key data holds the
//!   32-byte Ed25519 seed and the hash is still that of the public key.
//!
//! A name must be non-empty and contain neither white space (any Unicode
//! space) nor `+`.
//!
//! # Entry points
//!
//! * [`new_verifier`], [`new_signer`], [`generate_key`],
//!   [`new_ed25519_verifier_key`] read and make keys;
//! * [`VerifierList`] (or any [`Verifiers`]) is the set of trusted keys;
//! * [`open`] parses a signed note and checks its signatures;
//! * [`sign`] signs a note's text.

use std::collections::{HashMap, HashSet};
use std::fmt;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The verifier key of the public Go checksum database, `sum.golang.org`,
/// as the go command has it built in (`cmd/go/internal/modfetch`).
pub const SUM_GOLANG_ORG_KEY: &str =
    "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";

/// The algorithm byte of an Ed25519 key, the only algorithm there is.
pub const ALG_ED25519: u8 = 1;

/// The most signature lines [`open`] reads. A note with more is malformed,
/// so that a hostile note cannot make a reader check signatures forever.
pub const MAX_SIGNATURES: usize = 100;

/// The first bytes of every signature line: an em dash and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Go's `base64.StdEncoding`: the standard alphabet with `=` padding
/// required, and (unlike base64's strict default) unused low bits of the
/// last character accepted, as Go accepts them.
pub(crate) const GO_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// An error from this module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A verifier key is not `<name>+<hash>+<keydata>` with a valid name,
    /// eight hexadecimal digits and non-empty base64, or its key has the
    /// wrong size for its algorithm, or is not a valid Ed25519 point.
    #[error("malformed verifier id: {0}")]
    MalformedVerifierKey(&'static str),
    /// A verifier key's algorithm byte is not [`ALG_ED25519`].
    #[error("unknown verifier algorithm {0}")]
    UnknownVerifierAlgorithm(u8),
    /// A verifier key's hash is not the hash of its name and key data.
    #[error("invalid verifier hash")]
    VerifierHashMismatch,
    /// A signer key is not `PRIVATE+KEY+<name>+<hash>+<keydata>` with a
    /// valid name, eight hexadecimal digits and non-empty base64, or its
    /// seed has the wrong size.
    #[error("malformed signer key: {0}")]
    MalformedSignerKey(&'static str),
    /// A signer key's algorithm byte is not [`ALG_ED25519`].
    #[error("unknown signer algorithm {0}")]
    UnknownSignerAlgorithm(u8),
    /// A signer key's hash is not the hash of its name and public key.
    #[error("invalid signer hash")]
    SignerHashMismatch,
    /// A key name is empty or contains white space or `+`.
    #[error("invalid key name {0:?}")]
    InvalidName(String),
    /// An Ed25519 public key is not 32 bytes.
    #[error("invalid public key size {0}, expected 32")]
    PublicKeySize(usize),
    /// The system's random number generator failed.
    #[error("generating key: {0}")]
    Random(getrandom::Error),
    /// No known key has this name and hash (a [`Verifiers`] answer; [`open`]
    /// keeps such signatures as unverified).
    #[error("unknown key {name}+{hash:08x}")]
    UnknownKey {
        /// The key's name.
        name: String,
        /// The key's hash.
        hash: u32,
    },
    /// More than one known key has this name and hash: the list of trusted
    /// keys is not to be trusted.
    #[error("ambiguous key {name}+{hash:08x}")]
    AmbiguousKey {
        /// The key's name.
        name: String,
        /// The key's hash.
        hash: u32,
    },
    /// A [`Verifiers`] answered a lookup with a key of another name or hash.
    #[error("verifier name or hash doesn't match signature")]
    MismatchedVerifier,
    /// The message is not a well-formed signed note, or (for [`sign`]) the
    /// note to sign cannot be encoded as one. The text says what is wrong.
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    /// The note is well formed but no known key signed it. It is returned,
    /// with all its signatures unverified, for diagnostics only: its text
    /// must not be trusted.
    #[error("note has no verifiable signatures")]
    UnverifiedNote(Box<Note>),
    /// A known key's signature does not match the text: the note was altered
    /// or forged.
    #[error("invalid signature for key {name}+{hash:08x}")]
    InvalidSignature {
        /// The key's name.
        name: String,
        /// The key's hash.
        hash: u32,
    },
    /// A [`Signer`] given to [`sign`] has an invalid name.
    #[error("invalid signer")]
    InvalidSigner,
    /// A [`Signer`] failed to sign.
    #[error("signing note: {0}")]
    Sign(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A key that can check signatures.
pub trait Verifier {
    /// The name of the key's server.
    fn name(&self) -> &str;
    /// The key hash.
    fn key_hash(&self) -> u32;
    /// Whether `sig` is this key's signature of `msg`.
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool;
}

/// A key that can sign.
pub trait Signer {
    /// The name of the key's server.
    fn name(&self) -> &str;
    /// The key hash (of the public key).
    fn key_hash(&self) -> u32;
    /// The signature of `msg`.
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>>;
}

/// A set of trusted keys, looked up by name and hash.
pub trait Verifiers {
    /// The key with this name and hash. A key not in the set is
    /// [`Error::UnknownKey`]; any other error makes [`open`] fail.
    fn verifier(&self, name: &str, hash: u32) -> Result<&dyn Verifier, Error>;
}

/// The key hash of `name` and the key data `key` (algorithm byte included):
/// the first four bytes, big-endian, of SHA-256(name + "\n" + key).
pub fn key_hash(name: &str, key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update(key);
    let sum = h.finalize();
    u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]])
}

/// Whether `name` can name a key: it is non-empty and contains neither
/// white space (Unicode `White_Space`, as Go's `unicode.IsSpace`) nor `+`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// Parses `<hash>` as exactly eight hexadecimal digits (either case).
fn parse_hash16(s: &str) -> Option<u32> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// Splits `s` at its first `+`; without one, the rest is empty.
fn cut_plus(s: &str) -> (&str, &str) {
    s.split_once('+').unwrap_or((s, ""))
}

/// Formats `<name>+<hash>+<base64 key data>`.
fn encode_key(name: &str, hash: u32, keydata: &[u8]) -> String {
    format!("{name}+{hash:08x}+{}", GO_BASE64.encode(keydata))
}

/// A verifier key: an Ed25519 public key with its name and hash.
#[derive(Clone)]
pub struct Ed25519Verifier {
    name: String,
    hash: u32,
    key: VerifyingKey,
}

impl Ed25519Verifier {
    /// The 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The encoded verifier key, `<name>+<hash>+<keydata>`.
    pub fn vkey(&self) -> String {
        encode_key(&self.name, self.hash, &alg_key(self.key.as_bytes()))
    }
}

impl fmt::Debug for Ed25519Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Ed25519Verifier")
            .field(&self.vkey())
            .finish()
    }
}

impl Verifier for Ed25519Verifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_hash(&self) -> u32 {
        self.hash
    }
    /// Ed25519 verification as Go's `crypto/ed25519.Verify` does it: the
    /// signature is 64 bytes, its scalar is canonical, and the check is the
    /// cofactorless one (small-order keys are not refused).
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
            return false;
        };
        // ed25519-dalek's plain `verify` is Go's check (not `verify_strict`).
        ed25519_dalek::Verifier::verify(&self.key, msg, &sig).is_ok()
    }
}

/// Lets one key serve as the whole set of trusted keys.
impl Verifiers for Ed25519Verifier {
    fn verifier(&self, name: &str, hash: u32) -> Result<&dyn Verifier, Error> {
        if name == self.name && hash == self.hash {
            Ok(self)
        } else {
            Err(Error::UnknownKey {
                name: name.to_string(),
                hash,
            })
        }
    }
}

/// `[ALG_ED25519] || key`.
fn alg_key(key: &[u8; 32]) -> Vec<u8> {
    let mut v = Vec::with_capacity(33);
    v.push(ALG_ED25519);
    v.extend_from_slice(key);
    v
}

/// Parses a verifier key `<name>+<hash>+<keydata>`.
///
/// The name must be valid ([`is_valid_name`]), the hash exactly eight
/// hexadecimal digits, the key data non-empty padded base64. The hash must
/// equal [`key_hash`] of the name and key data, checked before the
/// algorithm, so a key with an unknown algorithm and a correct hash is
/// [`Error::UnknownVerifierAlgorithm`]. An Ed25519 key must be 32 bytes and a
/// point on the curve.
pub fn new_verifier(vkey: &str) -> Result<Ed25519Verifier, Error> {
    let (name, rest) = cut_plus(vkey);
    let (hash16, key64) = cut_plus(rest);
    let hash = parse_hash16(hash16).ok_or(Error::MalformedVerifierKey(
        "key hash is not eight hexadecimal digits",
    ))?;
    let keydata = GO_BASE64
        .decode(key64)
        .map_err(|_| Error::MalformedVerifierKey("key data is not base64"))?;
    if !is_valid_name(name) {
        return Err(Error::MalformedVerifierKey("invalid key name"));
    }
    if keydata.is_empty() {
        return Err(Error::MalformedVerifierKey("empty key data"));
    }
    if hash != key_hash(name, &keydata) {
        return Err(Error::VerifierHashMismatch);
    }
    match keydata[0] {
        ALG_ED25519 => {
            let key: &[u8; 32] = keydata[1..]
                .try_into()
                .map_err(|_| Error::MalformedVerifierKey("Ed25519 key is not 32 bytes"))?;
            let key = VerifyingKey::from_bytes(key)
                .map_err(|_| Error::MalformedVerifierKey("not an Ed25519 public key"))?;
            Ok(Ed25519Verifier {
                name: name.to_string(),
                hash,
                key,
            })
        }
        alg => Err(Error::UnknownVerifierAlgorithm(alg)),
    }
}

/// A signer key: an Ed25519 private key with its name and hash.
pub struct Ed25519Signer {
    name: String,
    hash: u32,
    key: SigningKey,
}

impl Ed25519Signer {
    /// The verifier key that checks this signer's signatures.
    pub fn verifier(&self) -> Ed25519Verifier {
        Ed25519Verifier {
            name: self.name.clone(),
            hash: self.hash,
            key: self.key.verifying_key(),
        }
    }
}

impl fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ed25519Signer")
            .field("name", &self.name)
            .field("hash", &format_args!("{:08x}", self.hash))
            .finish_non_exhaustive()
    }
}

impl Signer for Ed25519Signer {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_hash(&self) -> u32 {
        self.hash
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.key.sign(msg).to_bytes().to_vec())
    }
}

/// Parses a signer key `PRIVATE+KEY+<name>+<hash>+<keydata>`.
///
/// The literal `PRIVATE+KEY` prefix is required; the name, hash and key data
/// follow the verifier-key rules, the key data holds an algorithm byte and a
/// 32-byte Ed25519 seed, and the hash must be that of the public key derived
/// from the seed.
pub fn new_signer(skey: &str) -> Result<Ed25519Signer, Error> {
    let (priv1, rest) = cut_plus(skey);
    let (priv2, rest) = cut_plus(rest);
    let (name, rest) = cut_plus(rest);
    let (hash16, key64) = cut_plus(rest);
    if priv1 != "PRIVATE" || priv2 != "KEY" {
        return Err(Error::MalformedSignerKey(
            "does not start with PRIVATE+KEY+",
        ));
    }
    let hash = parse_hash16(hash16).ok_or(Error::MalformedSignerKey(
        "key hash is not eight hexadecimal digits",
    ))?;
    let keydata = GO_BASE64
        .decode(key64)
        .map_err(|_| Error::MalformedSignerKey("key data is not base64"))?;
    if !is_valid_name(name) {
        return Err(Error::MalformedSignerKey("invalid key name"));
    }
    if keydata.is_empty() {
        return Err(Error::MalformedSignerKey("empty key data"));
    }
    let key = match keydata[0] {
        ALG_ED25519 => {
            let seed: &[u8; 32] = keydata[1..]
                .try_into()
                .map_err(|_| Error::MalformedSignerKey("Ed25519 seed is not 32 bytes"))?;
            SigningKey::from_bytes(seed)
        }
        alg => return Err(Error::UnknownSignerAlgorithm(alg)),
    };
    if hash != key_hash(name, &alg_key(key.verifying_key().as_bytes())) {
        return Err(Error::SignerHashMismatch);
    }
    Ok(Ed25519Signer {
        name: name.to_string(),
        hash,
        key,
    })
}

/// Generates a new Ed25519 key pair named `name` from the system's random
/// number generator, returning the signer key (secret) and the verifier key.
pub fn generate_key(name: &str) -> Result<(String, String), Error> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(Error::Random)?;
    key_pair_from_seed(name, &seed)
}

/// The signer and verifier keys named `name` for the Ed25519 private key
/// with this 32-byte seed. The name must be valid.
pub fn key_pair_from_seed(name: &str, seed: &[u8; 32]) -> Result<(String, String), Error> {
    if !is_valid_name(name) {
        return Err(Error::InvalidName(name.to_string()));
    }
    let pubkey = alg_key(SigningKey::from_bytes(seed).verifying_key().as_bytes());
    let hash = key_hash(name, &pubkey);
    let mut privkey = Vec::with_capacity(33);
    privkey.push(ALG_ED25519);
    privkey.extend_from_slice(seed);
    Ok((
        format!("PRIVATE+KEY+{}", encode_key(name, hash, &privkey)),
        encode_key(name, hash, &pubkey),
    ))
}

/// The verifier key `<name>+<hash>+<keydata>` for an Ed25519 public key.
/// The key must be 32 bytes and the name valid.
pub fn new_ed25519_verifier_key(name: &str, key: &[u8]) -> Result<String, Error> {
    let key: &[u8; 32] = key
        .try_into()
        .map_err(|_| Error::PublicKeySize(key.len()))?;
    if !is_valid_name(name) {
        return Err(Error::InvalidName(name.to_string()));
    }
    let keydata = alg_key(key);
    Ok(encode_key(name, key_hash(name, &keydata), &keydata))
}

/// A set of trusted keys. Looking up a name and hash that more than one
/// added key has is [`Error::AmbiguousKey`].
#[derive(Default)]
pub struct VerifierList {
    keys: HashMap<(String, u32), Vec<Box<dyn Verifier + Send + Sync>>>,
}

impl VerifierList {
    /// An empty set: [`open`] with it verifies nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The set of the keys parsed from these verifier keys.
    pub fn from_keys<I, S>(vkeys: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list = Self::new();
        for vkey in vkeys {
            list.add(new_verifier(vkey.as_ref())?);
        }
        Ok(list)
    }

    /// Adds a key.
    pub fn add<V: Verifier + Send + Sync + 'static>(&mut self, v: V) {
        let id = (v.name().to_string(), v.key_hash());
        self.keys.entry(id).or_default().push(Box::new(v));
    }

    /// The number of keys added.
    pub fn len(&self) -> usize {
        self.keys.values().map(Vec::len).sum()
    }

    /// Whether no key was added.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl<V: Verifier + Send + Sync + 'static> FromIterator<V> for VerifierList {
    fn from_iter<I: IntoIterator<Item = V>>(iter: I) -> Self {
        let mut list = Self::new();
        for v in iter {
            list.add(v);
        }
        list
    }
}

impl fmt::Debug for VerifierList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<String> = self
            .keys
            .iter()
            .flat_map(|((name, hash), vs)| vs.iter().map(move |_| format!("{name}+{hash:08x}")))
            .collect();
        ids.sort();
        f.debug_tuple("VerifierList").field(&ids).finish()
    }
}

impl Verifiers for VerifierList {
    fn verifier(&self, name: &str, hash: u32) -> Result<&dyn Verifier, Error> {
        match self.keys.get(&(name.to_string(), hash)).map(Vec::as_slice) {
            Some([v]) => Ok(&**v),
            Some([_, _, ..]) => Err(Error::AmbiguousKey {
                name: name.to_string(),
                hash,
            }),
            _ => Err(Error::UnknownKey {
                name: name.to_string(),
                hash,
            }),
        }
    }
}

/// A note: its text and its signatures.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Note {
    /// The text, ending in a newline.
    pub text: String,
    /// Signatures by known keys, each checked.
    pub sigs: Vec<Signature>,
    /// Signatures by keys not known to the reader, not checked.
    pub unverified_sigs: Vec<Signature>,
}

/// One signature of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The name of the signing key.
    pub name: String,
    /// The hash of the signing key.
    pub hash: u32,
    /// The signature line's base64: the key hash and the signature bytes.
    pub base64: String,
}

/// Whether `text` has only characters a note may have: no ASCII control
/// character but newline.
fn has_only_note_chars(text: &str) -> bool {
    !text.chars().any(|c| c < ' ' && c != '\n')
}

/// Parses the signed note `msg` and checks its signatures against `known`.
///
/// The rules:
/// * `msg` is UTF-8 with no ASCII control character other than newline;
/// * the last blank line in it ends the text (which so ends in a newline)
///   and starts the signature block, which is non-empty and ends in a
///   newline;
/// * every line of the block is `— <name> <base64>` with a valid key name
///   and base64 of at least five bytes (four of key hash, then the
///   signature), and there are at most [`MAX_SIGNATURES`] lines;
/// * a signature by a key `known` does not have is kept in
///   [`Note::unverified_sigs`] (an identical repeated line once);
/// * a signature by a known key must verify, or the note is
///   [`Error::InvalidSignature`]; a later signature by the same key is
///   ignored;
/// * any other lookup error from `known` is returned as is, and a key
///   `known` returns must have the name and hash asked for;
/// * with no verified signature the note is [`Error::UnverifiedNote`].
pub fn open<V: Verifiers + ?Sized>(msg: &[u8], known: &V) -> Result<Note, Error> {
    let msg = std::str::from_utf8(msg).map_err(|_| Error::MalformedNote("not valid UTF-8"))?;
    if !has_only_note_chars(msg) {
        return Err(Error::MalformedNote("contains a control character"));
    }
    let split = msg
        .rfind("\n\n")
        .ok_or(Error::MalformedNote("no blank line before signatures"))?;
    let (text, block) = (&msg[..split + 1], &msg[split + 2..]);
    if block.is_empty() {
        return Err(Error::MalformedNote("no signatures"));
    }
    if !block.ends_with('\n') {
        return Err(Error::MalformedNote(
            "last signature line does not end in a newline",
        ));
    }

    let mut note = Note {
        text: text.to_string(),
        ..Note::default()
    };
    let mut seen_keys: HashSet<(&str, u32)> = HashSet::new();
    let mut seen_unverified: HashSet<&str> = HashSet::new();
    for (count, line) in block[..block.len() - 1].split('\n').enumerate() {
        let line = line.strip_prefix(SIG_PREFIX).ok_or(Error::MalformedNote(
            "signature line does not start with \"— \"",
        ))?;
        let (name, b64) = line.split_once(' ').unwrap_or((line, ""));
        if !is_valid_name(name) {
            return Err(Error::MalformedNote("invalid key name in signature line"));
        }
        let raw = GO_BASE64
            .decode(b64)
            .map_err(|_| Error::MalformedNote("signature is not base64"))?;
        if raw.len() < 5 {
            return Err(Error::MalformedNote("signature too short"));
        }
        if count >= MAX_SIGNATURES {
            return Err(Error::MalformedNote("too many signatures"));
        }
        let hash = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let sig = Signature {
            name: name.to_string(),
            hash,
            base64: b64.to_string(),
        };

        let verifier = match known.verifier(name, hash) {
            Ok(v) => v,
            Err(Error::UnknownKey { .. }) => {
                if seen_unverified.insert(line) {
                    note.unverified_sigs.push(sig);
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        if verifier.name() != name || verifier.key_hash() != hash {
            return Err(Error::MismatchedVerifier);
        }
        if !seen_keys.insert((name, hash)) {
            continue;
        }
        if !verifier.verify(text.as_bytes(), &raw[4..]) {
            return Err(Error::InvalidSignature {
                name: name.to_string(),
                hash,
            });
        }
        note.sigs.push(sig);
    }

    if note.sigs.is_empty() {
        return Err(Error::UnverifiedNote(Box::new(note)));
    }
    Ok(note)
}

/// Encodes `note` signed by `signers`.
///
/// The text must end in a newline and contain no ASCII control character
/// but newline. The note's existing signatures (verified, then unverified)
/// come first, except those by a key one of `signers` has (same name and
/// hash), which the new signature replaces; each existing one must have a
/// valid name and base64 that starts with its key hash. The new signatures
/// follow in the order of `signers`, each of which must have a valid name.
pub fn sign(note: &Note, signers: &[&dyn Signer]) -> Result<Vec<u8>, Error> {
    if !note.text.ends_with('\n') {
        return Err(Error::MalformedNote("text does not end in a newline"));
    }
    if !has_only_note_chars(&note.text) {
        return Err(Error::MalformedNote("text contains a control character"));
    }

    let mut new_lines = String::new();
    let mut replaced: HashSet<(&str, u32)> = HashSet::new();
    for signer in signers {
        let (name, hash) = (signer.name(), signer.key_hash());
        if !is_valid_name(name) {
            return Err(Error::InvalidSigner);
        }
        replaced.insert((name, hash));
        let sig = signer.sign(note.text.as_bytes()).map_err(Error::Sign)?;
        let mut raw = hash.to_be_bytes().to_vec();
        raw.extend_from_slice(&sig);
        new_lines.push_str(&format!("{SIG_PREFIX}{name} {}\n", GO_BASE64.encode(&raw)));
    }

    let mut out = String::with_capacity(note.text.len() + 1 + new_lines.len());
    out.push_str(&note.text);
    out.push('\n');
    for sig in note.sigs.iter().chain(&note.unverified_sigs) {
        if !is_valid_name(&sig.name) {
            return Err(Error::MalformedNote(
                "existing signature has an invalid key name",
            ));
        }
        if replaced.contains(&(sig.name.as_str(), sig.hash)) {
            continue;
        }
        match GO_BASE64.decode(&sig.base64) {
            Ok(raw) if raw.len() >= 4 && raw[..4] == sig.hash.to_be_bytes() => {}
            _ => {
                return Err(Error::MalformedNote(
                    "existing signature does not match its key hash",
                ))
            }
        }
        out.push_str(&format!("{SIG_PREFIX}{} {}\n", sig.name, sig.base64));
    }
    out.push_str(&new_lines);
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";

    #[test]
    fn peter_keys_match() {
        let v = new_verifier(PETER_VKEY).unwrap();
        let s = new_signer(PETER_SKEY).unwrap();
        assert_eq!(s.verifier().vkey(), PETER_VKEY);
        assert_eq!(v.vkey(), PETER_VKEY);
        assert_eq!(v.key_hash(), 0xc74f20a3);
    }

    #[test]
    fn sum_golang_org_key_parses() {
        let v = new_verifier(SUM_GOLANG_ORG_KEY).unwrap();
        assert_eq!(v.name(), "sum.golang.org");
        assert_eq!(v.key_hash(), 0x033de0ae);
    }

    #[test]
    fn names() {
        for good in [
            "a",
            "sum.golang.org",
            "example.com/path",
            "ünïcode",
            "a\u{7f}",
        ] {
            assert!(is_valid_name(good), "{good:?}");
        }
        for bad in [
            "",
            "a b",
            "a+b",
            "a\tb",
            "a\u{a0}b",
            "a\u{2003}b",
            "a\u{3000}",
            "\u{85}",
        ] {
            assert!(!is_valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn hash16_is_strict() {
        assert_eq!(parse_hash16("C74F20A3"), Some(0xc74f20a3));
        assert_eq!(parse_hash16("+74f20a3"), None);
        assert_eq!(parse_hash16("c74f20a"), None);
        assert_eq!(parse_hash16("0xc74f20"), None);
    }

    #[test]
    fn generated_keys_round_trip() {
        let (skey, vkey) = generate_key("EnochRoot").unwrap();
        let s = new_signer(&skey).unwrap();
        let v = new_verifier(&vkey).unwrap();
        assert_eq!(s.verifier().vkey(), vkey);
        let sig = Signer::sign(&s, b"hi").unwrap();
        assert!(v.verify(b"hi", &sig));
        assert!(!v.verify(b"ho", &sig));
        assert!(matches!(
            generate_key("bad name"),
            Err(Error::InvalidName(_))
        ));
    }
}
