//! Checks `gomod::{note, tlog}` against the test vectors of Go's
//! `golang.org/x/mod/sumdb` and of RFC 6962, plus our own rejection cases.
//!
//! Sources (BSD-3-Clause test data, copied as data):
//! * `sumdb/note/note_test.go`, `sumdb/tlog/tlog_test.go`,
//!   `sumdb/tlog/tile_test.go`, `sumdb/tlog/note_test.go` of
//!   github.com/golang/mod at commit fe2ec04f7c3c3aa6fad97631aafcff6e49e2d1db.
//!   (`sumdb/tlog/ct_test.go` fetches its vectors from a live Certificate
//!   Transparency log, so it has none to copy; the RFC 6962 reference
//!   vectors below stand in for it.)
//! * The RFC 6962 reference tree (8 leaves, its roots, audit paths and
//!   consistency proofs) as in github.com/transparency-dev/merkle
//!   `proof/verify_test.go` at commit 02194e9afb6c1d95b5381350007963aa70fff472
//!   (Apache-2.0; originally Google's C++ Certificate Transparency tests).
//! * Signed tree heads and lookup records published by sum.golang.org, as
//!   captured in public documents; they verify under the real key.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use gomod::note::{self, Signer as _, Verifier as _, Verifiers as _};
use gomod::tlog::{self, HashReader as _, Tile, Tree};

// ---------------------------------------------------------------------------
// note: keys (note_test.go TestNewVerifier, TestNewSigner, TestGenerateKey,
// TestFromEd25519)
// ---------------------------------------------------------------------------

const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";

const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

fn peter_sig() -> note::Signature {
    note::Signature {
        name: "PeterNeumann".into(),
        hash: 0xc74f20a3,
        base64: "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=".into(),
    }
}

fn enoch_sig() -> note::Signature {
    note::Signature {
        name: "EnochRoot".into(),
        hash: 0xaf0cfe78,
        base64: "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=".into(),
    }
}

/// Every proper substring and every one-byte increment of `key` (over its
/// bytes, as Go does; increments that break UTF-8 are skipped, since a Rust
/// `&str` cannot hold them). Returns the manglings.
fn manglings(key: &str) -> Vec<String> {
    let b = key.as_bytes();
    let mut out = Vec::new();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if i != 0 || j != b.len() {
                out.push(String::from_utf8(b[i..j].to_vec()).unwrap());
            }
        }
    }
    for i in 0..b.len() {
        let mut m = b.to_vec();
        m[i] += 1;
        if let Ok(s) = String::from_utf8(m) {
            out.push(s);
        }
    }
    out
}

#[test]
fn new_verifier_vectors() {
    let v = note::new_verifier(PETER_VKEY).unwrap();
    assert_eq!(v.name(), "PeterNeumann");
    assert_eq!(v.key_hash(), 0xc74f20a3);
    let bad = manglings(PETER_VKEY);
    assert_eq!(bad.len(), 66 * 67 / 2 - 1 + 66);
    for k in &bad {
        assert!(
            note::new_verifier(k).is_err(),
            "new_verifier({k:?}) succeeded"
        );
    }
    // Wrong key length and unknown algorithm, each with a matching hash.
    assert!(matches!(
        note::new_verifier(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        ),
        Err(note::Error::MalformedVerifierKey(_))
    ));
    assert!(matches!(
        note::new_verifier("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(note::Error::UnknownVerifierAlgorithm(0x65))
    ));
    // Upper-case hexadecimal is a valid hash spelling, as Go's ParseUint has it.
    assert!(note::new_verifier(&PETER_VKEY.replace("c74f20a3", "C74F20A3")).is_ok());
    assert!(matches!(
        note::new_verifier(&PETER_VKEY.replace("c74f20a3", "c74f20a4")),
        Err(note::Error::VerifierHashMismatch)
    ));
}

#[test]
fn new_signer_vectors() {
    let s = note::new_signer(PETER_SKEY).unwrap();
    assert_eq!(s.name(), "PeterNeumann");
    assert_eq!(s.key_hash(), 0xc74f20a3);
    assert_eq!(s.verifier().vkey(), PETER_VKEY);
    for k in manglings(PETER_SKEY) {
        assert!(note::new_signer(&k).is_err(), "new_signer({k:?}) succeeded");
    }
}

/// note_test.go testSignerAndVerifier.
fn check_signer_and_verifier(name: &str, s: &dyn note::Signer, v: &dyn note::Verifier) {
    assert_eq!(s.name(), name);
    assert_eq!(v.name(), name);
    assert_eq!(s.key_hash(), v.key_hash());
    let mut msg = b"hi".to_vec();
    let mut sig = s.sign(&msg).unwrap();
    assert!(v.verify(&msg, &sig));
    sig[0] = sig[0].wrapping_add(1);
    assert!(!v.verify(&msg, &sig), "corrupt signature verified");
    sig[0] = sig[0].wrapping_sub(1);
    msg[0] += 1;
    assert!(!v.verify(&msg, &sig), "corrupt message verified");
}

#[test]
fn generate_key_vectors() {
    let (skey, vkey) = note::generate_key("EnochRoot").unwrap();
    assert!(skey.starts_with("PRIVATE+KEY+EnochRoot+"));
    let s = note::new_signer(&skey).unwrap();
    let v = note::new_verifier(&vkey).unwrap();
    check_signer_and_verifier("EnochRoot", &s, &v);
    let (skey2, _) = note::generate_key("EnochRoot").unwrap();
    assert_ne!(skey, skey2, "two generated keys are the same");
}

#[test]
fn from_ed25519_vectors() {
    let seed = [7u8; 32];
    let (skey, vkey) = note::key_pair_from_seed("EnochRoot", &seed).unwrap();
    let s = note::new_signer(&skey).unwrap();
    let public = s.verifier().public_key();
    let vkey2 = note::new_ed25519_verifier_key("EnochRoot", &public).unwrap();
    assert_eq!(vkey, vkey2);
    let v = note::new_verifier(&vkey2).unwrap();
    check_signer_and_verifier("EnochRoot", &s, &v);
    assert!(matches!(
        note::new_ed25519_verifier_key("EnochRoot", &public[..31]),
        Err(note::Error::PublicKeySize(31))
    ));
    assert!(matches!(
        note::new_ed25519_verifier_key("Enoch Root", &public),
        Err(note::Error::InvalidName(_))
    ));
}

// ---------------------------------------------------------------------------
// note: signing and opening (note_test.go TestSign, TestVerifierList, TestOpen)
// ---------------------------------------------------------------------------

struct BadNameSigner(note::Ed25519Signer);

impl note::Signer for BadNameSigner {
    fn name(&self) -> &str {
        "bad name"
    }
    fn key_hash(&self) -> u32 {
        self.0.key_hash()
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
        self.0.sign(msg)
    }
}

struct FailingSigner(note::Ed25519Signer);

impl note::Signer for FailingSigner {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn key_hash(&self) -> u32 {
        self.0.key_hash()
    }
    fn sign(&self, _: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
        Err("surprise!".into())
    }
}

fn text_note(text: &str) -> note::Note {
    note::Note {
        text: text.into(),
        ..Default::default()
    }
}

#[test]
fn sign_vectors() {
    let signer = note::new_signer(PETER_SKEY).unwrap();
    let want = format!("{TEXT}\n{PETER_SIG}");
    let msg = note::sign(&text_note(TEXT), &[&signer]).unwrap();
    assert_eq!(String::from_utf8(msg).unwrap(), want);

    // An existing signature by the same key is replaced.
    let mut n = text_note(TEXT);
    n.sigs.push(note::Signature {
        name: "PeterNeumann".into(),
        hash: 0xc74f20a3,
        base64: "BADSIGN=".into(),
    });
    assert_eq!(
        String::from_utf8(note::sign(&n, &[&signer]).unwrap()).unwrap(),
        want
    );

    assert!(matches!(
        note::sign(&text_note("abc"), &[&signer]),
        Err(note::Error::MalformedNote(_))
    ));
    let mut n = text_note(TEXT);
    n.sigs.push(note::Signature {
        name: "a+b".into(),
        hash: 0,
        base64: "ABCD".into(),
    });
    assert!(matches!(
        note::sign(&n, &[]),
        Err(note::Error::MalformedNote(_))
    ));
    let mut n = text_note(TEXT);
    n.sigs.push(note::Signature {
        name: "PeterNeumann".into(),
        hash: 0xc74f20a3,
        base64: "BADHASH=".into(),
    });
    assert!(matches!(
        note::sign(&n, &[]),
        Err(note::Error::MalformedNote(_))
    ));
    let bad = BadNameSigner(note::new_signer(PETER_SKEY).unwrap());
    assert!(matches!(
        note::sign(&text_note(TEXT), &[&bad]),
        Err(note::Error::InvalidSigner)
    ));
    let failing = FailingSigner(note::new_signer(PETER_SKEY).unwrap());
    match note::sign(&text_note(TEXT), &[&failing]) {
        Err(note::Error::Sign(e)) => assert_eq!(e.to_string(), "surprise!"),
        other => panic!("sign with failing signer: {other:?}"),
    }
}

#[test]
fn verifier_list_vectors() {
    let peter = note::new_verifier(PETER_VKEY).unwrap();
    let enoch = note::new_verifier(ENOCH_VKEY).unwrap();
    let list: note::VerifierList = [peter, enoch.clone(), enoch].into_iter().collect();
    assert_eq!(list.len(), 3);
    let v = list.verifier("PeterNeumann", 0xc74f20a3).unwrap();
    assert_eq!((v.name(), v.key_hash()), ("PeterNeumann", 0xc74f20a3));
    let e = list.verifier("PeterNeumann", 0xc74f20a4).err().unwrap();
    assert_eq!(e.to_string(), "unknown key PeterNeumann+c74f20a4");
    let e = list.verifier("PeterNeuman", 0xc74f20a3).err().unwrap();
    assert_eq!(e.to_string(), "unknown key PeterNeuman+c74f20a3");
    let e = list.verifier("EnochRoot", 0xaf0cfe78).err().unwrap();
    assert_eq!(e.to_string(), "ambiguous key EnochRoot+af0cfe78");
}

/// A `Verifiers` that answers every lookup with one key, whatever was asked.
struct FixedVerifier(note::Ed25519Verifier);

impl note::Verifiers for FixedVerifier {
    fn verifier(&self, _: &str, _: u32) -> Result<&dyn note::Verifier, note::Error> {
        Ok(&self.0)
    }
}

fn list(keys: &[&str]) -> note::VerifierList {
    note::VerifierList::from_keys(keys).unwrap()
}

#[test]
fn open_vectors() {
    let two = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");

    // One verified, one not.
    let n = note::open(two.as_bytes(), &list(&[PETER_VKEY])).unwrap();
    assert_eq!(n.text, TEXT);
    assert_eq!(n.sigs, vec![peter_sig()]);
    assert_eq!(n.unverified_sigs, vec![enoch_sig()]);

    // Both verified.
    let n = note::open(two.as_bytes(), &list(&[PETER_VKEY, ENOCH_VKEY])).unwrap();
    assert_eq!(n.sigs, vec![peter_sig(), enoch_sig()]);
    assert!(n.unverified_sigs.is_empty());

    // Neither verified: the note comes back inside the error.
    match note::open(two.as_bytes(), &note::VerifierList::new()) {
        Err(e @ note::Error::UnverifiedNote(_)) => {
            assert_eq!(e.to_string(), "note has no verifiable signatures");
            let note::Error::UnverifiedNote(n) = e else {
                unreachable!()
            };
            assert!(n.sigs.is_empty());
            assert_eq!(n.unverified_sigs, vec![peter_sig(), enoch_sig()]);
        }
        other => panic!("open unverified: {other:?}"),
    }

    // A duplicated trusted key is an error only when a signature needs it.
    let dup = list(&[ENOCH_VKEY, PETER_VKEY, ENOCH_VKEY]);
    let e = note::open(format!("{TEXT}\n{ENOCH_SIG}").as_bytes(), &dup).unwrap_err();
    assert_eq!(e.to_string(), "ambiguous key EnochRoot+af0cfe78");
    note::open(format!("{TEXT}\n{PETER_SIG}").as_bytes(), &dup).unwrap();

    // Too many signatures, verified or not.
    let many = format!("{TEXT}\n{}", PETER_SIG.repeat(101));
    for known in [list(&[PETER_VKEY]), note::VerifierList::new()] {
        assert!(matches!(
            note::open(many.as_bytes(), &known),
            Err(note::Error::MalformedNote(_))
        ));
    }
    let hundred = format!("{TEXT}\n{}", PETER_SIG.repeat(100));
    assert_eq!(
        note::open(hundred.as_bytes(), &list(&[PETER_VKEY]))
            .unwrap()
            .sigs
            .len(),
        1
    );

    // A bad signature by a known key.
    let bad_peter = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    let e = note::open(
        format!("{TEXT}\n{bad_peter}").as_bytes(),
        &list(&[PETER_VKEY]),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid signature for key PeterNeumann+c74f20a3"
    );

    // Repeated signatures: verified ones once, identical unverified lines once.
    let bad_enoch = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
    let msg = format!("{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{bad_enoch}");
    let n = note::open(msg.as_bytes(), &list(&[PETER_VKEY])).unwrap();
    assert_eq!(n.sigs, vec![peter_sig()]);
    let mut enoch_abcd = enoch_sig();
    enoch_abcd.base64 = format!(
        "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n{}2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=",
        "ABCD"
    );
    assert_eq!(n.unverified_sigs, vec![enoch_sig(), enoch_abcd]);

    // Malformed messages.
    let bad_msgs: Vec<Vec<u8>> = vec![
        TEXT.into(),
        format!("{TEXT}\n").into(),
        format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]).into(),
        format!("\x01{TEXT}\n{PETER_SIG}").into(),
        [b"\xff".as_slice(), format!("{TEXT}\n{PETER_SIG}").as_bytes()].concat(),
        format!("{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=").into(),
        format!("{TEXT}\n{PETER_SIG}Unexpected line.\n").into(),
    ];
    for msg in &bad_msgs {
        match note::open(msg, &list(&[PETER_VKEY])) {
            Err(e @ note::Error::MalformedNote(_)) => {
                assert!(e.to_string().starts_with("malformed note"), "{e}")
            }
            other => panic!("open({:?}) = {other:?}", String::from_utf8_lossy(msg)),
        }
    }

    // A Verifiers answering with a key of another name or hash.
    let fixed = FixedVerifier(note::new_verifier(PETER_VKEY).unwrap());
    let misnamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego");
    let wrong_hash = PETER_SIG.replace("x08g", "xxxx");
    for sig in [misnamed, wrong_hash] {
        assert!(matches!(
            note::open(format!("{TEXT}\n{sig}").as_bytes(), &fixed),
            Err(note::Error::MismatchedVerifier)
        ));
    }
}

// ---------------------------------------------------------------------------
// note: our own cases
// ---------------------------------------------------------------------------

#[test]
fn open_rejects_more_malformed_notes() {
    let known = list(&[PETER_VKEY]);
    let cases: Vec<(&str, String)> = vec![
        (
            "carriage return",
            format!("{TEXT}\n{}\r\n", &PETER_SIG[..PETER_SIG.len() - 1]),
        ),
        ("tab in text", format!("a\tb\n\n{PETER_SIG}")),
        (
            "no space after dash",
            format!("{TEXT}\n—PeterNeumann x08go\n"),
        ),
        (
            "hyphen for em dash",
            format!("{TEXT}\n{}", PETER_SIG.replacen('—', "-", 1)),
        ),
        ("no signature", format!("{TEXT}\n— PeterNeumann\n")),
        ("empty base64", format!("{TEXT}\n— PeterNeumann \n")),
        (
            "signature of four bytes",
            format!("{TEXT}\n— PeterNeumann x08gow==\n"),
        ),
        (
            "unpadded base64",
            format!("{TEXT}\n{}", PETER_SIG.replace("AM=", "AM")),
        ),
        (
            "two spaces",
            format!("{TEXT}\n{}", PETER_SIG.replace("n x08", "n  x08")),
        ),
    ];
    for (what, msg) in cases {
        let r = note::open(msg.as_bytes(), &known);
        assert!(
            matches!(r, Err(note::Error::MalformedNote(_))),
            "{what}: {r:?}"
        );
    }
    // A blank line splitting the signature block makes the first half text,
    // so Peter's signature no longer covers it, or, when only an unknown key
    // signs what follows, nothing is verified.
    let msg = format!("{TEXT}\n{PETER_SIG}\n{ENOCH_SIG}");
    assert!(matches!(
        note::open(msg.as_bytes(), &known),
        Err(note::Error::UnverifiedNote(_))
    ));
    let msg = format!("{TEXT}\n{PETER_SIG}\n{PETER_SIG}");
    assert!(matches!(
        note::open(msg.as_bytes(), &known),
        Err(note::Error::InvalidSignature { .. })
    ));
}

#[test]
fn sign_open_round_trip() {
    let (skey_a, vkey_a) = note::key_pair_from_seed("log.example.com", &[1; 32]).unwrap();
    let (skey_b, vkey_b) = note::generate_key("witness.example.org/w1").unwrap();
    let a = note::new_signer(&skey_a).unwrap();
    let b = note::new_signer(&skey_b).unwrap();
    let text = "go.sum database tree\n5\nnND/nri/U0xuHUrYSy0HtMeal2vzD9V4k/BO79C+QeI=\n";
    let msg = note::sign(&text_note(text), &[&a, &b]).unwrap();
    let both = list(&[&vkey_a, &vkey_b]);
    let n = note::open(&msg, &both).unwrap();
    assert_eq!(n.text, text);
    assert_eq!(n.sigs.len(), 2);
    assert_eq!(n.sigs[0].name, "log.example.com");
    assert_eq!(n.sigs[1].name, "witness.example.org/w1");

    // Only one key known: the other signature is kept, unverified.
    let n = note::open(&msg, &list(&[&vkey_b])).unwrap();
    assert_eq!(n.sigs.len(), 1);
    assert_eq!(n.unverified_sigs.len(), 1);

    // Re-signing keeps the other signatures and replaces our own.
    let (skey_c, vkey_c) = note::key_pair_from_seed("third", &[3; 32]).unwrap();
    let c = note::new_signer(&skey_c).unwrap();
    let again = note::sign(&n, &[&b, &c]).unwrap();
    let n = note::open(&again, &list(&[&vkey_a, &vkey_b, &vkey_c])).unwrap();
    let names: Vec<&str> = n.sigs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["log.example.com", "witness.example.org/w1", "third"]
    );

    // Signing a text that is not a note's.
    for bad in ["no newline", "tab\there\n", "nul\0\n"] {
        assert!(matches!(
            note::sign(&text_note(bad), &[&a]),
            Err(note::Error::MalformedNote(_))
        ));
    }
}

#[test]
fn tampering_is_detected() {
    let (skey, vkey) = note::key_pair_from_seed("log.example.com", &[9; 32]).unwrap();
    let s = note::new_signer(&skey).unwrap();
    let known = list(&[&vkey]);
    let text = "go.sum database tree\n42\nnND/nri/U0xuHUrYSy0HtMeal2vzD9V4k/BO79C+QeI=\n";
    let msg = String::from_utf8(note::sign(&text_note(text), &[&s]).unwrap()).unwrap();
    note::open(msg.as_bytes(), &known).unwrap();

    // Text changed.
    let tampered = msg.replacen("\n42\n", "\n43\n", 1);
    assert!(matches!(
        note::open(tampered.as_bytes(), &known),
        Err(note::Error::InvalidSignature { .. })
    ));
    // Signature bytes changed (keeping the key hash).
    let line_start = msg.find('—').unwrap();
    let sig_at = msg[line_start..].rfind(' ').unwrap() + line_start + 1 + 12;
    let mut bytes = msg.clone().into_bytes();
    bytes[sig_at] = if bytes[sig_at] == b'A' { b'B' } else { b'A' };
    assert!(matches!(
        note::open(&bytes, &known),
        Err(note::Error::InvalidSignature { .. })
    ));
    // Key name changed: no trusted key signed it.
    let renamed = msg.replacen("— log.example.com ", "— log.example.net ", 1);
    assert!(matches!(
        note::open(renamed.as_bytes(), &known),
        Err(note::Error::UnverifiedNote(_))
    ));
    // Signed by a different key with the trusted key's name: the key hash
    // differs, so it is an unknown key.
    let (impostor, _) = note::key_pair_from_seed("log.example.com", &[10; 32]).unwrap();
    let impostor = note::new_signer(&impostor).unwrap();
    let forged = note::sign(&text_note(text), &[&impostor]).unwrap();
    assert!(matches!(
        note::open(&forged, &known),
        Err(note::Error::UnverifiedNote(_))
    ));
    // Forged signature under the trusted key's hash.
    let mut forged = String::from_utf8(forged).unwrap();
    let b64 = forged.trim_end().rsplit(' ').next().unwrap().to_string();
    let mut raw = base64_decode(&b64);
    raw[..4].copy_from_slice(&s.key_hash().to_be_bytes());
    forged = forged.replace(&b64, &base64_encode(&raw));
    assert!(matches!(
        note::open(forged.as_bytes(), &known),
        Err(note::Error::InvalidSignature { .. })
    ));
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

// ---------------------------------------------------------------------------
// note + tlog: what sum.golang.org really serves
// ---------------------------------------------------------------------------

/// Signed tree heads published by sum.golang.org: (size, hash, signed note).
const SUM_GOLANG_ORG_HEADS: &[(u64, &str, &str)] = &[
    (6476701, "mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=", "— sum.golang.org Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=\n"),
    (3935567, "SapHtgdNCeF00Cx8kqztePV24kgzNg++Xovae42HAMw=", "— sum.golang.org Az3grsm7Wm4CVNR1RHq9BFnu9jzcRlU2uw7lr0gfUWgO6+rqPNjT+fUTl9gH0NRTgdwW9nItuQSMbhSaLCsk8YeYSAs=\n"),
    (52544510, "+TGlZfnTizQCJgyZR56QixD8+X4dd8Wefy8U1w6k0Ig=", "— sum.golang.org Az3grn6d1PSjcypDf9bfcFVU5fvJB7VkLc0MAbz8jqeQVnSbAj9pKcsB5dJt5VdswPDUtiFar5LPRBu+uEQAT1CDfAc=\n"),
    (19777102, "+g50vJoV4VVGa6aiQF3LYGUZHEP4pvGkW38vlR7WKtU=", "— sum.golang.org Az3griMTLHyRzj7jMuyEt85a2JnegVME6Lx3xLEBdzTd3FMDiD5y3bHV24rcl0yijOtWxV0zyygwTdo/rnaennuoqgU=\n"),
    (28891140, "++pUIeKTwGvykMUkmM3AT97PwQipMT6H/p7t86E0Sp0=", "— sum.golang.org Az3grqNvOILDz7xwAKugtVFZwd+I9IyB/mHrUYzcVaS9zKsRVdRLNGLFpnAcLhyoBBkdIYEzK/+7Eu4wanYttLrPsQo=\n"),
    (15067302, "gJyioq6dwR9n+NjEWORfYmH+ubeYm3kH42BBQ0bTpYI=", "— sum.golang.org Az3grp1rvWOs5NKlr/xR4GLN/CDyzzakmt1o61uSxYKpK1SerqOP2ClbX/peKUZjYnyomH5Xz7GZG3TpB7OeKn4E2ww=\n— test.example.com qTGhC/xIPQ0AXKHK6Y+9ypRfuvMZWPjRXM8NiOg5M1WREn07VQXyuIXM3NRNav3ieVFLUqDRK77PWDmL6w8w84UqeAw=\n"),
    (65209736, "5+uGFjx6xBZG8ip1+wi77v+grwbhhukIrxEUS8PXvRo=", "— sum.golang.org Az3grnbssgK7ubgFX36gVETtNv0U23qxyAhAMai2QUfeGa3nB/akvkMdlUErfcZz7l/R3cVtYspg3dxXABkGZZKdsQ8=\n"),
];

#[test]
fn sum_golang_org_tree_heads_verify() {
    let key = note::new_verifier(note::SUM_GOLANG_ORG_KEY).unwrap();
    assert_eq!((key.name(), key.key_hash()), ("sum.golang.org", 0x033de0ae));
    for &(n, hash, sigs) in SUM_GOLANG_ORG_HEADS {
        let tree = Tree {
            n,
            hash: tlog::parse_hash(hash).unwrap(),
        };
        let text = tlog::format_tree(&tree);
        let msg = format!("{text}\n{sigs}");
        let opened = note::open(msg.as_bytes(), &key).unwrap();
        assert_eq!(opened.sigs.len(), 1);
        assert_eq!(tlog::parse_tree(opened.text.as_bytes()).unwrap(), tree);
        // The same head claiming one more record is refused.
        let bumped = format!("{}\n{sigs}", tlog::format_tree(&Tree { n: n + 1, ..tree }));
        assert!(matches!(
            note::open(bumped.as_bytes(), &key),
            Err(note::Error::InvalidSignature { .. })
        ));
    }
    // The key with a mistyped tail: its hash no longer matches it.
    assert!(matches!(
        note::new_verifier("sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ikzwc5vYRDJr6T1+"),
        Err(note::Error::VerifierHashMismatch)
    ));
}

/// Lookup responses of sum.golang.org: record id, go.sum lines, signed head.
const SUM_GOLANG_ORG_LOOKUPS: &[(&str, &str)] = &[
    (
        "golang.org/x/tools@v0.44.0",
        "52253027\n\
         golang.org/x/tools v0.44.0 h1:UP4ajHPIcuMjT1GqzDWRlalUEoY+uzoZKnhOjbIPD2c=\n\
         golang.org/x/tools v0.44.0/go.mod h1:KA0AfVErSdxRZIsOVipbv3rQhVXTnlU6UhKxHd1seDI=\n\
         \n\
         go.sum database tree\n52544510\n+TGlZfnTizQCJgyZR56QixD8+X4dd8Wefy8U1w6k0Ig=\n\
         \n\
         — sum.golang.org Az3grn6d1PSjcypDf9bfcFVU5fvJB7VkLc0MAbz8jqeQVnSbAj9pKcsB5dJt5VdswPDUtiFar5LPRBu+uEQAT1CDfAc=\n",
    ),
    (
        "github.com/google/uuid@v1.2.0",
        "2580307\n\
         github.com/google/uuid v1.2.0 h1:qJYtXnJRWmpe7m/3XlyhrsLrEURqHRM2kxzoxXqyUDs=\n\
         github.com/google/uuid v1.2.0/go.mod h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo=\n\
         \n\
         go.sum database tree\n3935567\nSapHtgdNCeF00Cx8kqztePV24kgzNg++Xovae42HAMw=\n\
         \n\
         — sum.golang.org Az3grsm7Wm4CVNR1RHq9BFnu9jzcRlU2uw7lr0gfUWgO6+rqPNjT+fUTl9gH0NRTgdwW9nItuQSMbhSaLCsk8YeYSAs=\n",
    ),
    (
        "golang.org/x/text@v0.13.0",
        "19383665\n\
         golang.org/x/text v0.13.0 h1:ablQoSUd0tRdKxZewP80B+BaqeKJuVhuRxj/dkrun3k=\n\
         golang.org/x/text v0.13.0/go.mod h1:TvPlkZtksWOMsz7fbANvkp4WM8x/WCo/om8BMLbz+aE=\n\
         \n\
         go.sum database tree\n19777102\n+g50vJoV4VVGa6aiQF3LYGUZHEP4pvGkW38vlR7WKtU=\n\
         \n\
         — sum.golang.org Az3griMTLHyRzj7jMuyEt85a2JnegVME6Lx3xLEBdzTd3FMDiD5y3bHV24rcl0yijOtWxV0zyygwTdo/rnaennuoqgU=\n",
    ),
];

#[test]
fn sum_golang_org_lookups_parse_and_verify() {
    let key = note::new_verifier(note::SUM_GOLANG_ORG_KEY).unwrap();
    for &(mod_ver, body) in SUM_GOLANG_ORG_LOOKUPS {
        let (path, version) = mod_ver.split_once('@').unwrap();
        let (id, text, rest) = tlog::parse_record(body.as_bytes()).unwrap();
        let opened = note::open(rest, &key).unwrap();
        let tree = tlog::parse_tree(opened.text.as_bytes()).unwrap();
        assert!(
            id < tree.n,
            "{mod_ver}: record {id} not in tree of {}",
            tree.n
        );
        let lines = tlog::parse_sum_lines(text).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[0].path, lines[0].version), (path, version));
        assert!(!lines[0].is_go_mod() && lines[1].is_go_mod());
        assert_eq!(lines[1].version, format!("{version}/go.mod"));
        assert!(lines.iter().all(|l| l.hash.starts_with("h1:")));
        assert_eq!(
            tlog::format_record(id, text).unwrap(),
            &body.as_bytes()[..body.len() - rest.len()]
        );
    }
}

// ---------------------------------------------------------------------------
// tlog: tree heads and records (tlog/note_test.go)
// ---------------------------------------------------------------------------

const TREE_TEXT: &str =
    "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n";

#[test]
fn format_and_parse_tree_vectors() {
    let tree = Tree {
        n: 123456789012,
        hash: tlog::record_hash(b"hello world"),
    };
    assert_eq!(tlog::format_tree(&tree), TREE_TEXT);
    assert_eq!(tlog::parse_tree(TREE_TEXT.as_bytes()).unwrap(), tree);
    let bad = [
        format!("not-{TREE_TEXT}"),
        "go.sum database tree\n0xabcdef\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n".into(),
        "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBTOOBIG=\n"
            .into(),
    ];
    for b in &bad {
        assert!(tlog::parse_tree(b.as_bytes()).is_err(), "{b:?}");
    }
    for good in [
        format!("{TREE_TEXT}JOE"),
        format!("{TREE_TEXT}JOE\n"),
        format!("{TREE_TEXT}{}", "JOE\n".repeat(1000)),
    ] {
        assert_eq!(tlog::parse_tree(good.as_bytes()).unwrap(), tree);
    }
    // Ours: missing final newline, too long, empty hash.
    for b in [
        TREE_TEXT.trim_end().to_string(),
        format!("{TREE_TEXT}{}", "x".repeat(1_000_000)),
        "go.sum database tree\n1\n\n".to_string(),
    ] {
        assert!(tlog::parse_tree(b.as_bytes()).is_err());
    }
}

#[test]
fn format_and_parse_record_vectors() {
    let msg = tlog::format_record(123456789012, b"hello, world\n").unwrap();
    assert_eq!(msg, b"123456789012\nhello, world\n\n");
    for bad in ["", "hello\nworld", "hello\n\nworld\n", "hello\x01world\n"] {
        assert!(tlog::format_record(1, bad.as_bytes()).is_err(), "{bad:?}");
    }

    let (id, text, rest) =
        tlog::parse_record(b"123456789012\nhello, world\n\njunk on end\x01\xff").unwrap();
    assert_eq!(
        (id, text, rest),
        (
            123456789012,
            &b"hello, world\n"[..],
            &b"junk on end\x01\xff"[..]
        )
    );
    let (id, text, rest) = tlog::parse_record(b"123456789012\nhello, world\n\n").unwrap();
    assert_eq!(
        (id, text, rest),
        (123456789012, &b"hello, world\n"[..], &b""[..])
    );
    for bad in [
        &b"not-123456789012\nhello, world\n\n"[..],
        b"123\nhello\x01world\n\n",
        b"123\nhello\xffworld\n\n",
        b"123\nhello world\n",
        b"0x123\nhello world\n\n",
        b"-1\nhello world\n\n",
    ] {
        assert!(
            tlog::parse_record(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn sum_lines_reject_malformed_records() {
    for bad in [
        "m v1.0.0 h1:x\nm v1.0.0/go.mod\n",
        "m  v1.0.0 h1:x\n",
        "m v1.0.0 h1:x extra\n",
        "m v1.0.0 h1:x",
        "\nm v1.0.0 h1:x\n",
    ] {
        assert!(tlog::parse_sum_lines(bad.as_bytes()).is_err(), "{bad:?}");
    }
}

// ---------------------------------------------------------------------------
// tlog: tiles (tlog_test.go TestTilePath, tile_test.go TestNewTilesForSize)
// ---------------------------------------------------------------------------

/// (path, tile or None for an invalid path).
const TILE_PATHS: &[(&str, Option<Tile>)] = &[
    (
        "tile/4/0/001",
        Some(Tile {
            h: 4,
            l: 0,
            n: 1,
            w: 16,
        }),
    ),
    (
        "tile/4/0/001.p/5",
        Some(Tile {
            h: 4,
            l: 0,
            n: 1,
            w: 5,
        }),
    ),
    (
        "tile/3/5/x123/x456/078",
        Some(Tile {
            h: 3,
            l: 5,
            n: 123456078,
            w: 8,
        }),
    ),
    (
        "tile/3/5/x123/x456/078.p/2",
        Some(Tile {
            h: 3,
            l: 5,
            n: 123456078,
            w: 2,
        }),
    ),
    (
        "tile/1/0/x003/x057/500",
        Some(Tile {
            h: 1,
            l: 0,
            n: 3057500,
            w: 2,
        }),
    ),
    ("tile/3/5/123/456/078", None),
    ("tile/3/-1/123/456/078", None),
    (
        "tile/1/data/x003/x057/500",
        Some(Tile {
            h: 1,
            l: -1,
            n: 3057500,
            w: 2,
        }),
    ),
];

#[test]
fn tile_path_vectors() {
    for &(path, tile) in TILE_PATHS {
        match tile {
            Some(t) => {
                assert_eq!(t.path(), path);
                assert_eq!(tlog::parse_tile_path(path).unwrap(), t);
            }
            None => assert!(tlog::parse_tile_path(path).is_err(), "{path}"),
        }
    }
    // The example of the x/mod documentation.
    assert_eq!(
        Tile {
            h: 3,
            l: 4,
            n: 1234067,
            w: 1
        }
        .path(),
        "tile/3/4/x001/x234/067.p/1"
    );
    assert_eq!(
        Tile {
            h: 3,
            l: 4,
            n: 1234067,
            w: 8
        }
        .path(),
        "tile/3/4/x001/x234/067"
    );
}

#[test]
fn tile_paths_round_trip_and_reject_non_canonical() {
    for h in [1, 2, 8, 30] {
        for l in [-1, 0, 1, 63] {
            for n in [
                0,
                1,
                999,
                1000,
                1001,
                999_999,
                1_000_000,
                123_456_789_012,
                u64::MAX,
            ] {
                for w in [1, 2, 3, 1 << h] {
                    if w > 1 << h {
                        continue;
                    }
                    let t = Tile { h, l, n, w };
                    assert_eq!(tlog::parse_tile_path(&t.path()).unwrap(), t, "{}", t.path());
                }
            }
        }
    }
    for bad in [
        "tile/0/0/000",
        "tile/31/0/000",
        "tile/4/64/000",
        "tile/4/0/001.p/16",
        "tile/4/0/001.p/0",
        "tile/4/0/001.p/05",
        "tile/4/0/001.p/",
        "tile/4/0/x000/001",
        "tile/4/0/01",
        "tile/4/0/1",
        "tile/4/0/x001",
        "tile/4/0/x001/2345",
        "tile/+4/0/001",
        "tile/04/0/001",
        "tile/4/00/001",
        "tile/4/0/001/",
        "tile/4/0",
        "tile/4/0/",
        "tiles/4/0/001",
        "/tile/4/0/001",
        "tile/4/data.p/5",
        "tile/4/0/x018446744073709551615",
        "tile/4/0/x018/x446/x744/x073/x709/x551/616",
    ] {
        assert!(tlog::parse_tile_path(bad).is_err(), "{bad}");
    }
}

#[test]
fn new_tiles_vectors() {
    for (old, new, want) in [
        (1, 1, 0),
        (100, 101, 1),
        (1023, 1025, 3),
        (1024, 1030, 1),
        (1030, 2000, 1),
        (1030, 10000, 10),
        (49516517, 49516586, 3),
    ] {
        assert_eq!(
            tlog::new_tiles(10, old, new).len(),
            want,
            "new_tiles(10, {old}, {new})"
        );
    }
}

// ---------------------------------------------------------------------------
// tlog: the tree (tlog_test.go TestTree, TestSplitStoredHashIndex, TestEmptyTree)
// ---------------------------------------------------------------------------

/// Stored hashes in memory; checks that callers ask in increasing order.
struct Storage(Vec<tlog::Hash>);

impl tlog::HashReader for Storage {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog::Hash>, tlog::Error> {
        assert!(
            indexes.windows(2).all(|w| w[0] < w[1]),
            "indexes out of order: {indexes:?}"
        );
        self.0.read_hashes(indexes)
    }
}

/// Tiles in memory, counting tiles read but not yet saved.
struct TileStore {
    tiles: HashMap<Tile, Vec<u8>>,
    unsaved: Cell<i64>,
    tamper: RefCell<Option<Tamper>>,
}

/// Changes a tile's data as it is read.
type Tamper = Box<dyn Fn(&Tile, &mut Vec<u8>)>;

impl TileStore {
    fn new(tiles: HashMap<Tile, Vec<u8>>) -> Self {
        TileStore {
            tiles,
            unsaved: Cell::new(0),
            tamper: RefCell::new(None),
        }
    }
}

impl tlog::TileReader for TileStore {
    fn height(&self) -> u32 {
        2
    }
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog::Error> {
        self.unsaved.set(self.unsaved.get() + tiles.len() as i64);
        let tamper = self.tamper.borrow();
        Ok(tiles
            .iter()
            .map(|t| {
                let mut d = self.tiles.get(t).cloned().unwrap_or_default();
                if let Some(f) = tamper.as_ref() {
                    f(t, &mut d);
                }
                d
            })
            .collect())
    }
    fn save_tiles(&self, tiles: &[tlog::CheckedTile]) {
        self.unsaved.set(self.unsaved.get() - tiles.len() as i64);
    }
}

const TEST_H: u32 = 2;

/// Builds a log of `n` records ("leaf 0", ...), its tree hashes after each
/// record, and its tiles of height 2.
fn build_log(
    n: u64,
) -> (
    Storage,
    Vec<tlog::Hash>,
    Vec<tlog::Hash>,
    HashMap<Tile, Vec<u8>>,
) {
    let mut storage = Storage(Vec::new());
    let mut trees = Vec::new();
    let mut leaves = Vec::new();
    let mut tiles: HashMap<Tile, Vec<u8>> = HashMap::new();
    for i in 0..n {
        let data = format!("leaf {i}");
        let hashes = tlog::stored_hashes(i, data.as_bytes(), &storage).unwrap();
        leaves.push(tlog::record_hash(data.as_bytes()));
        storage.0.extend(hashes);
        trees.push(tlog::tree_hash(i + 1, &storage).unwrap());
        for t in tlog::new_tiles(TEST_H, i, i + 1) {
            tiles.insert(t, tlog::read_tile_data(&t, &storage).unwrap());
        }
    }
    (storage, trees, leaves, tiles)
}

#[test]
fn tree_vectors() {
    let mut storage = Storage(Vec::new());
    let mut trees: Vec<tlog::Hash> = Vec::new();
    let mut leaves = Vec::new();
    let mut tiles: HashMap<Tile, Vec<u8>> = HashMap::new();
    for i in 0u64..100 {
        let data = format!("leaf {i}");
        let hashes = tlog::stored_hashes(i, data.as_bytes(), &storage).unwrap();
        leaves.push(tlog::record_hash(data.as_bytes()));
        let old_len = storage.0.len();
        storage.0.extend(hashes);
        assert_eq!(tlog::stored_hash_count(i + 1), storage.0.len() as u64);
        let th = tlog::tree_hash(i + 1, &storage).unwrap();

        // New tiles extend the previous version of the same tile by one hash.
        for t in tlog::new_tiles(TEST_H, i, i + 1) {
            let data = tlog::read_tile_data(&t, &storage).unwrap();
            let old = Tile { w: t.w - 1, ..t };
            let old_data = tiles.get(&old).cloned().unwrap_or_default();
            assert_eq!(old_data.len(), data.len() - tlog::HASH_SIZE, "{}", t.path());
            assert_eq!(
                old_data,
                data[..old_data.len()],
                "{} does not extend {}",
                t.path(),
                old.path()
            );
            tiles.insert(t, data);
        }
        for old in [0, i / 2] {
            for t in tlog::new_tiles(TEST_H, old, i + 1) {
                assert_eq!(
                    tiles[&t],
                    tlog::read_tile_data(&t, &storage).unwrap(),
                    "{}",
                    t.path()
                );
            }
        }
        // Every new hash is readable from its tile.
        for j in old_len as u64..storage.0.len() as u64 {
            let t = tlog::tile_for_index(TEST_H, j);
            let data = tiles
                .get(&t)
                .unwrap_or_else(|| panic!("tile {} not stored", t.path()));
            assert_eq!(
                tlog::hash_from_tile(&t, data, j).unwrap(),
                storage.0[j as usize]
            );
        }
        trees.push(th);

        // Record proofs, for every record so far; any corrupt hash fails.
        for j in 0..=i {
            let mut p = tlog::prove_record(i + 1, j, &storage).unwrap();
            tlog::check_record(&p, i + 1, th, j, leaves[j as usize]).unwrap();
            for k in 0..p.len() {
                p[k].0[0] ^= 1;
                assert!(tlog::check_record(&p, i + 1, th, j, leaves[j as usize]).is_err());
                p[k].0[0] ^= 1;
            }
        }

        // The same through tiles: reading a record's hash proves it.
        let store = TileStore::new(tiles.clone());
        let thr = tlog::TileHashReader::new(Tree { n: i + 1, hash: th }, &store);
        for j in 0..=i {
            let h = thr.read_hashes(&[tlog::stored_hash_index(0, j)]).unwrap();
            assert_eq!(h[0], leaves[j as usize]);
            let p = tlog::prove_record(i + 1, j, &thr).unwrap();
            tlog::check_record(&p, i + 1, th, j, leaves[j as usize]).unwrap();
        }
        assert_eq!(store.unsaved.get(), 0, "tiles read but not saved");
        assert!(matches!(
            thr.read_hashes(&[(i + 1) * 2]),
            Err(tlog::Error::IndexNotInTree { .. })
        ));
        assert_eq!(store.unsaved.get(), 0);

        // Tree hashes and tree proofs for every earlier tree, through tiles.
        for j in 0..=i {
            assert_eq!(tlog::tree_hash(j + 1, &thr).unwrap(), trees[j as usize]);
            let mut p = tlog::prove_tree(i + 1, j + 1, &thr).unwrap();
            tlog::check_tree(&p, i + 1, th, j + 1, trees[j as usize]).unwrap();
            for k in 0..p.len() {
                p[k].0[0] ^= 1;
                assert!(tlog::check_tree(&p, i + 1, th, j + 1, trees[j as usize]).is_err());
                p[k].0[0] ^= 1;
            }
        }
        assert_eq!(store.unsaved.get(), 0);
    }
}

#[test]
fn split_stored_hash_index_vectors() {
    for l in 0..10 {
        for n in 0..100 {
            let x = tlog::stored_hash_index(l, n);
            assert_eq!(tlog::split_stored_hash_index(x), (l, n), "index {x}");
        }
    }
}

#[test]
fn empty_tree_vector() {
    let h = tlog::tree_hash(0, &Storage(Vec::new())).unwrap();
    assert_eq!(h, tlog::EMPTY_TREE_HASH);
    assert_eq!(
        h,
        hex_hash("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
}

fn hex_hash(s: &str) -> tlog::Hash {
    let v = hex::decode(s).unwrap();
    tlog::Hash(v.try_into().unwrap())
}

// ---------------------------------------------------------------------------
// tlog: RFC 6962 reference vectors (stand-in for ct_test.go)
// ---------------------------------------------------------------------------

const RFC_LEAVES: &[&str] = &[
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// Roots of the trees of 1..=8 of those leaves.
const RFC_ROOTS: &[&str] = &[
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// Audit paths: (leaf, 1-based as in the source; tree size; proof).
const RFC_INCLUSION: &[(u64, u64, &[&str])] = &[
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        3,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        2,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// Consistency proofs: (old size, new size, proof).
const RFC_CONSISTENCY: &[(u64, u64, &[&str])] = &[
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn hashes(hex: &[&str]) -> Vec<tlog::Hash> {
    hex.iter().map(|h| hex_hash(h)).collect()
}

/// The RFC 6962 reference log, stored.
fn rfc_log() -> Storage {
    let mut storage = Storage(Vec::new());
    for (i, leaf) in RFC_LEAVES.iter().enumerate() {
        let data = hex::decode(leaf).unwrap();
        let new = tlog::stored_hashes(i as u64, &data, &storage).unwrap();
        storage.0.extend(new);
    }
    storage
}

#[test]
fn rfc6962_roots() {
    let log = rfc_log();
    assert_eq!(tlog::tree_hash(0, &log).unwrap(), tlog::EMPTY_TREE_HASH);
    for (i, root) in RFC_ROOTS.iter().enumerate() {
        assert_eq!(
            tlog::tree_hash(i as u64 + 1, &log).unwrap(),
            hex_hash(root),
            "size {}",
            i + 1
        );
    }
}

/// The hash the reference tests use as "some hash".
const SOME_HASH: &str = "abacaba000000000000000000000000000000000000000000060061e00123456";

#[test]
fn rfc6962_inclusion_proofs() {
    let log = rfc_log();
    let (some, zero) = (hex_hash(SOME_HASH), tlog::Hash::default());
    for &(leaf, t, proof) in RFC_INCLUSION {
        let n = leaf - 1;
        let p = hashes(proof);
        let r = hex_hash(RFC_ROOTS[t as usize - 1]);
        let lh = tlog::record_hash(&hex::decode(RFC_LEAVES[n as usize]).unwrap());
        // We produce the same proof and accept it.
        assert_eq!(tlog::prove_record(t, n, &log).unwrap(), p, "{n} in {t}");
        tlog::check_record(&p, t, r, n, lh).unwrap();

        // And refuse it bent in every way the reference tests try.
        let bad = |what: &str, p: &[tlog::Hash], t: u64, r: tlog::Hash, n: u64, lh| {
            let res = tlog::check_record(p, t, r, n, lh);
            assert!(res.is_err(), "{what}: leaf {leaf} of {t}");
        };
        bad("leaf - 1", &p, t, r, n.wrapping_sub(1), lh);
        bad("leaf + 1", &p, t, r, n + 1, lh);
        bad("leaf ^ 2", &p, t, r, n ^ 2, lh);
        bad("size * 2", &p, t * 2, r, n, lh);
        bad("size / 2", &p, t / 2, r, n, lh);
        bad("wrong leaf", &p, t, r, n, tlog::record_hash(b"WrongLeaf"));
        bad("empty root", &p, t, tlog::EMPTY_TREE_HASH, n, lh);
        bad("random root", &p, t, some, n, lh);
        bad("trailing zero", &[&p[..], &[zero]].concat(), t, r, n, lh);
        bad("trailing root", &[&p[..], &[r]].concat(), t, r, n, lh);
        bad("preceding zero", &[&[zero], &p[..]].concat(), t, r, n, lh);
        bad("preceding root", &[&[r], &p[..]].concat(), t, r, n, lh);
        for i in 0..p.len() {
            let mut q = p.clone();
            q[i].0[0] ^= 8;
            bad(&format!("proof[{i}] bit 3"), &q, t, r, n, lh);
        }
        if !p.is_empty() {
            bad("removed", &p[..p.len() - 1], t, r, n, lh);
        }
        if p.len() > 1 {
            bad("inserted", &[&[p[0], some], &p[1..]].concat(), t, r, n, lh);
        }
    }
}

#[test]
fn rfc6962_consistency_proofs() {
    let log = rfc_log();
    let (some, zero) = (hex_hash(SOME_HASH), tlog::Hash::default());
    for &(m, t, proof) in RFC_CONSISTENCY {
        let p = hashes(proof);
        let r1 = hex_hash(RFC_ROOTS[m as usize - 1]);
        let r2 = hex_hash(RFC_ROOTS[t as usize - 1]);
        assert_eq!(tlog::prove_tree(t, m, &log).unwrap(), p, "{m} -> {t}");
        tlog::check_tree(&p, t, r2, m, r1).unwrap();
        if p.is_empty() {
            continue;
        }
        let bad = |what: &str, p: &[tlog::Hash], t: u64, r2: tlog::Hash, m: u64, r1| {
            let res = tlog::check_tree(p, t, r2, m, r1);
            assert!(res.is_err(), "{what}: {m} -> {t}");
        };
        let wrong = tlog::record_hash(b"WrongRoot");
        bad("size1 - 1", &p, t, r2, m - 1, r1);
        bad("size1 + 1", &p, t, r2, m + 1, r1);
        bad("size1 ^ 2", &p, t, r2, m ^ 2, r1);
        bad("size2 * 2", &p, t * 2, r2, m, r1);
        bad("size2 / 2", &p, t / 2, r2, m, r1);
        bad("wrong root1", &p, t, r2, m, wrong);
        bad("wrong root2", &p, t, wrong, m, r1);
        bad("swapped roots", &p, t, r1, m, r2);
        bad("empty proof", &[], t, r2, m, r1);
        bad("trailing zero", &[&p[..], &[zero]].concat(), t, r2, m, r1);
        bad("trailing root1", &[&p[..], &[r1]].concat(), t, r2, m, r1);
        bad("trailing root2", &[&p[..], &[r2]].concat(), t, r2, m, r1);
        bad("preceding zero", &[&[zero], &p[..]].concat(), t, r2, m, r1);
        bad("preceding root1", &[&[r1], &p[..]].concat(), t, r2, m, r1);
        bad("preceding root2", &[&[r2], &p[..]].concat(), t, r2, m, r1);
        bad("preceding p[0]", &[&[p[0]], &p[..]].concat(), t, r2, m, r1);
        bad("truncated", &p[..p.len() - 1], t, r2, m, r1);
        bad("inserted", &[&[p[0], some], &p[1..]].concat(), t, r2, m, r1);
        for i in 0..p.len() {
            let mut q = p.clone();
            q[i].0[0] ^= 16;
            bad(&format!("proof[{i}] bit 4"), &q, t, r2, m, r1);
        }
    }
}

// ---------------------------------------------------------------------------
// tlog: our own rejection cases
// ---------------------------------------------------------------------------

#[test]
fn proofs_that_do_not_verify_are_refused() {
    let (storage, trees, leaves, _) = build_log(21);
    let (t, n) = (21u64, 13u64);
    let th = trees[t as usize - 1];
    let p = tlog::prove_record(t, n, &storage).unwrap();
    tlog::check_record(&p, t, th, n, leaves[n as usize]).unwrap();
    let refused = |r: Result<(), tlog::Error>| matches!(r, Err(tlog::Error::ProofFailed));
    assert!(refused(tlog::check_record(
        &p,
        t,
        trees[19],
        n,
        leaves[n as usize]
    )));
    assert!(refused(tlog::check_record(&p, t, th, n, leaves[12])));
    assert!(refused(tlog::check_record(
        &p,
        t,
        th,
        12,
        leaves[n as usize]
    )));
    assert!(refused(tlog::check_record(
        &p[1..],
        t,
        th,
        n,
        leaves[n as usize]
    )));
    assert!(refused(tlog::check_record(
        &[p.clone(), p.clone()].concat(),
        t,
        th,
        n,
        leaves[n as usize]
    )));
    assert!(matches!(
        tlog::check_record(&p, t, th, t, leaves[n as usize]),
        Err(tlog::Error::InvalidInput(_))
    ));
    assert!(matches!(
        tlog::prove_record(t, t, &storage),
        Err(tlog::Error::InvalidInput(_))
    ));

    let q = tlog::prove_tree(t, 6, &storage).unwrap();
    tlog::check_tree(&q, t, th, 6, trees[5]).unwrap();
    assert!(refused(tlog::check_tree(&q, t, th, 6, trees[6])));
    assert!(refused(tlog::check_tree(&q, t, trees[19], 6, trees[5])));
    assert!(refused(tlog::check_tree(
        &q[..q.len() - 1],
        t,
        th,
        6,
        trees[5]
    )));
    assert!(matches!(
        tlog::check_tree(&q, 5, th, 6, trees[5]),
        Err(tlog::Error::InvalidInput(_))
    ));
    assert!(matches!(
        tlog::check_tree(&q, t, th, 0, trees[5]),
        Err(tlog::Error::InvalidInput(_))
    ));
    assert!(matches!(
        tlog::prove_tree(t, 0, &storage),
        Err(tlog::Error::InvalidInput(_))
    ));
    // A tree is its own prefix with an empty proof, and only with one.
    tlog::check_tree(&[], t, th, t, th).unwrap();
    assert!(refused(tlog::check_tree(&[th], t, th, t, th)));

    // A reader that returns too few hashes.
    struct Short;
    impl tlog::HashReader for Short {
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog::Hash>, tlog::Error> {
            Ok(vec![tlog::Hash::default(); indexes.len().saturating_sub(1)])
        }
    }
    assert!(matches!(
        tlog::tree_hash(5, &Short),
        Err(tlog::Error::HashCount { want: 2, got: 1 })
    ));
    // A reader's own error comes through.
    struct Failing;
    impl tlog::HashReader for Failing {
        fn read_hashes(&self, _: &[u64]) -> Result<Vec<tlog::Hash>, tlog::Error> {
            Err(tlog::Error::reader("disk on fire"))
        }
    }
    let e = tlog::prove_record(5, 1, &Failing).unwrap_err();
    assert_eq!(e.to_string(), "disk on fire");
}

#[test]
fn bad_tiles_are_refused() {
    let (_, trees, leaves, tiles) = build_log(23);
    let tree = Tree {
        n: 23,
        hash: trees[22],
    };
    let index = tlog::stored_hash_index(0, 5);

    let store = TileStore::new(tiles.clone());
    let thr = tlog::TileHashReader::new(tree, &store);
    assert_eq!(thr.read_hashes(&[index]).unwrap(), vec![leaves[5]]);

    // Truncated tile data.
    *store.tamper.borrow_mut() = Some(Box::new(|_, d: &mut Vec<u8>| {
        d.truncate(d.len() - 1);
    }));
    assert!(matches!(
        thr.read_hashes(&[index]),
        Err(tlog::Error::TileDataLength { .. })
    ));
    // One flipped bit in the tile holding record 5 (not one of the tree's
    // own tiles): its parent disagrees, and the tile is named.
    let leaf_tile = tlog::tile_for_index(2, index);
    let bottom = Tile { w: 4, ..leaf_tile };
    *store.tamper.borrow_mut() = Some(Box::new(move |t, d: &mut Vec<u8>| {
        if *t == bottom {
            d[5] ^= 1;
        }
    }));
    match thr.read_hashes(&[index]) {
        Err(e @ tlog::Error::InconsistentTile(Some(_))) => {
            assert_eq!(
                e.to_string(),
                format!("downloaded inconsistent tile {}", bottom.path())
            )
        }
        other => panic!("tampered leaf tile: {other:?}"),
    }
    // One flipped bit in a tile the tree hash is made of.
    *store.tamper.borrow_mut() = Some(Box::new(|t, d: &mut Vec<u8>| {
        if t.l == 1 {
            d[0] ^= 1;
        }
    }));
    assert!(matches!(
        thr.read_hashes(&[index]),
        Err(tlog::Error::InconsistentTile(None))
    ));
    // Tiles of another tree of the same size.
    *store.tamper.borrow_mut() = None;
    let other = tlog::TileHashReader::new(
        Tree {
            n: 23,
            hash: trees[21],
        },
        &store,
    );
    assert!(matches!(
        other.read_hashes(&[index]),
        Err(tlog::Error::InconsistentTile(None))
    ));
    // Nothing unverified was reported saved.
    assert_eq!(store.unsaved.get(), 4 * read_count(&tiles, tree, index));

    // A reader that returns the wrong number of tiles.
    struct NoTiles;
    impl tlog::TileReader for NoTiles {
        fn height(&self) -> u32 {
            2
        }
        fn read_tiles(&self, _: &[Tile]) -> Result<Vec<Vec<u8>>, tlog::Error> {
            Ok(Vec::new())
        }
        fn save_tiles(&self, _: &[tlog::CheckedTile]) {
            panic!("saved tiles that were never checked");
        }
    }
    let r = tlog::TileHashReader::new(tree, &NoTiles).read_hashes(&[index]);
    assert!(matches!(r, Err(tlog::Error::TileCount { got: 0, .. })));

    // Bad tiles given to hash_from_tile directly.
    let t = tlog::tile_for_index(2, index);
    let data = &tiles[&Tile { w: 4, ..t }];
    assert!(matches!(
        tlog::hash_from_tile(&t, &data[..10], index),
        Err(tlog::Error::TileDataShort { .. })
    ));
    let elsewhere = Tile { n: t.n + 1, ..t };
    assert!(matches!(
        tlog::hash_from_tile(&elsewhere, data, index),
        Err(tlog::Error::IndexNotInTile { .. })
    ));
    let data_tile = Tile { l: -1, ..t };
    assert!(matches!(
        tlog::hash_from_tile(&data_tile, data, index),
        Err(tlog::Error::InvalidTile(_))
    ));
}

/// How many tiles one read of `index` in `tree` asks for.
fn read_count(tiles: &HashMap<Tile, Vec<u8>>, tree: Tree, index: u64) -> i64 {
    let store = TileStore::new(tiles.clone());
    struct Counting<'a>(&'a TileStore, Cell<i64>);
    impl tlog::TileReader for Counting<'_> {
        fn height(&self) -> u32 {
            2
        }
        fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog::Error> {
            self.1.set(self.1.get() + tiles.len() as i64);
            self.0.read_tiles(tiles)
        }
        fn save_tiles(&self, tiles: &[tlog::CheckedTile]) {
            self.0.save_tiles(tiles)
        }
    }
    let c = Counting(&store, Cell::new(0));
    tlog::TileHashReader::new(tree, &c)
        .read_hashes(&[index])
        .unwrap();
    c.1.get()
}

/// A reader that keeps what a `TileHashReader` checked and offers it back
/// through `checked_before`: for the tree asked about only, or (`any_tree`)
/// whatever it kept, whichever tree it was checked against.
struct Remembering {
    store: TileStore,
    kept: RefCell<HashMap<Tile, tlog::CheckedTile>>,
    reads: Cell<usize>,
    any_tree: bool,
}

impl tlog::TileReader for Remembering {
    fn height(&self) -> u32 {
        2
    }
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog::Error> {
        self.reads.set(self.reads.get() + tiles.len());
        self.store.read_tiles(tiles)
    }
    fn save_tiles(&self, tiles: &[tlog::CheckedTile]) {
        let mut k = self.kept.borrow_mut();
        for t in tiles {
            k.insert(t.tile(), t.clone());
        }
    }
    fn checked_before(&self, tiles: &[Tile], tree: Tree) -> Option<Vec<tlog::CheckedTile>> {
        let k = self.kept.borrow();
        tiles
            .iter()
            .map(|t| {
                k.get(t)
                    .filter(|c| self.any_tree || c.tree() == tree)
                    .cloned()
            })
            .collect()
    }
}

#[test]
fn tiles_checked_against_the_same_tree_are_not_read_or_checked_again() {
    let (_, trees, leaves, tiles) = build_log(23);
    let tree = |n: u64| Tree {
        n,
        hash: trees[n as usize - 1],
    };
    let r = Remembering {
        store: TileStore::new(tiles.clone()),
        kept: RefCell::new(HashMap::new()),
        reads: Cell::new(0),
        any_tree: false,
    };
    let index = tlog::stored_hash_index(0, 5);
    let thr = tlog::TileHashReader::new(tree(23), &r);
    assert_eq!(thr.read_hashes(&[index]).unwrap(), vec![leaves[5]]);
    let first = r.reads.get();
    assert!(first > 0);
    // The same question in the same tree: answered from the checked tiles.
    assert_eq!(thr.read_hashes(&[index]).unwrap(), vec![leaves[5]]);
    assert_eq!(r.reads.get(), first, "tiles read again for the same tree");
    // Another record whose tiles are not all kept yet (its bottom tile is
    // not one of the tree's own): read and checked.
    let other = tlog::stored_hash_index(0, 13);
    assert_eq!(thr.read_hashes(&[other]).unwrap(), vec![leaves[13]]);
    assert!(r.reads.get() > first);
    // The same record in another tree: the tiles kept were checked against
    // tree 23, not 22, so they are read and checked again.
    let before = r.reads.get();
    let thr22 = tlog::TileHashReader::new(tree(22), &r);
    assert_eq!(thr22.read_hashes(&[index]).unwrap(), vec![leaves[5]]);
    assert!(r.reads.get() > before, "tiles of tree 23 taken for tree 22");

    // A reader offering tiles checked against another tree is not
    // believed: the hash reader reads them and finds the lie.
    let liar = Remembering {
        store: TileStore::new(tiles.clone()),
        kept: RefCell::new(HashMap::new()),
        reads: Cell::new(0),
        any_tree: true,
    };
    tlog::TileHashReader::new(tree(23), &liar)
        .read_hashes(&[index])
        .unwrap();
    let read = liar.reads.get();
    // A tree of the same size with another hash: the kept tiles do not
    // make it, and reading them again shows it.
    let forged = Tree {
        n: 23,
        hash: trees[21],
    };
    assert!(matches!(
        tlog::TileHashReader::new(forged, &liar).read_hashes(&[index]),
        Err(tlog::Error::InconsistentTile(None))
    ));
    assert!(liar.reads.get() > read);
}
