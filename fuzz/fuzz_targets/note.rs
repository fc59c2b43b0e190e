//! Signed notes and their keys.
//!
//! Input: arbitrary bytes, read (1) as a signed note, opened against
//! sum.golang.org's key and a fixed test key: an opened note re-encodes
//! (`sign` with no new signer) into a message that opens to the same note,
//! its signatures are all by known keys and its unverified ones by unknown
//! keys; (2) when UTF-8, as a verifier key and as a signer key: a key read
//! writes back to a key that reads the same, and a signer's signature
//! verifies under its verifier; (3) when it is valid note text, as text
//! signed by the test key, which then opens to the same text.
#![no_main]

use std::sync::OnceLock;

use gomod::note::{self, Signer as _, Verifier as _, Verifiers as _};
use libfuzzer_sys::fuzz_target;

/// The fixed test key pair (name, signer key, verifier key).
fn test_keys() -> &'static (String, String) {
    static KEYS: OnceLock<(String, String)> = OnceLock::new();
    KEYS.get_or_init(|| note::key_pair_from_seed("fuzz.example/log", &[7; 32]).unwrap())
}

fn known() -> &'static note::VerifierList {
    static KNOWN: OnceLock<note::VerifierList> = OnceLock::new();
    KNOWN.get_or_init(|| {
        note::VerifierList::from_keys([note::SUM_GOLANG_ORG_KEY, test_keys().1.as_str()]).unwrap()
    })
}

fn is_known(sig: &note::Signature) -> bool {
    known().verifier(&sig.name, sig.hash).is_ok()
}

/// What every note `open` returns must satisfy, verified or not.
fn check_note(n: &note::Note, msg: &[u8], verified: bool) {
    assert!(n.text.ends_with('\n'), "{n:?}");
    assert!(msg.starts_with(n.text.as_bytes()), "{n:?}");
    assert!(n.sigs.len() + n.unverified_sigs.len() <= note::MAX_SIGNATURES);
    assert_eq!(!n.sigs.is_empty(), verified, "{n:?}");
    assert!(n.sigs.iter().all(is_known), "{n:?}");
    assert!(!n.unverified_sigs.iter().any(is_known), "{n:?}");
    if !verified {
        assert!(!n.unverified_sigs.is_empty(), "{n:?}");
    }
    // Re-encoding without new signers gives a message that opens the same.
    let again = note::sign(n, &[]).expect("an opened note re-encodes");
    match note::open(&again, known()) {
        Ok(m) => {
            assert!(verified);
            assert_eq!(&m, n);
        }
        Err(note::Error::UnverifiedNote(m)) => {
            assert!(!verified);
            assert_eq!(&*m, n);
        }
        Err(e) => panic!("re-encoded note does not open: {e}"),
    }
}

fn check_keys(s: &str) {
    if let Ok(v) = note::new_verifier(s) {
        assert!(note::is_valid_name(v.name()));
        let mut keydata = vec![note::ALG_ED25519];
        keydata.extend_from_slice(&v.public_key());
        assert_eq!(note::key_hash(v.name(), &keydata), v.key_hash());
        let w = note::new_verifier(&v.vkey()).expect("a written verifier key reads");
        assert_eq!(
            (w.name(), w.key_hash(), w.public_key()),
            (v.name(), v.key_hash(), v.public_key())
        );
    }
    if let Ok(signer) = note::new_signer(s) {
        assert!(note::is_valid_name(signer.name()));
        let v = signer.verifier();
        assert_eq!((v.name(), v.key_hash()), (signer.name(), signer.key_hash()));
        let sig = signer.sign(b"text\n").expect("signing works");
        assert!(v.verify(b"text\n", &sig));
    }
}

fuzz_target!(|data: &[u8]| {
    match note::open(data, known()) {
        Ok(n) => check_note(&n, data, true),
        Err(note::Error::UnverifiedNote(n)) => check_note(&n, data, false),
        Err(_) => {}
    }
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    check_keys(s);
    check_keys(s.trim_end());
    if s.ends_with('\n') && !s.chars().any(|c| c < ' ' && c != '\n') {
        let signer = note::new_signer(&test_keys().0).unwrap();
        let unsigned = note::Note {
            text: s.to_string(),
            ..Default::default()
        };
        let msg = note::sign(&unsigned, &[&signer]).expect("valid text signs");
        let n = note::open(&msg, known()).expect("a freshly signed note opens");
        assert_eq!(n.text, s);
        assert_eq!(n.sigs.len(), 1);
        assert!(n.unverified_sigs.is_empty());
    }
});
