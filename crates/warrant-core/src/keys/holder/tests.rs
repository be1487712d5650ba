use super::*;
use crate::keys::{HolderSigner as _, HolderSigningKey, P256SigningKey, SigningKey};
use rand_core::OsRng;

/// RFC 9449's example key (figures 2 and 9): its coordinates and published thumbprint.
const RFC9449_X: &str = "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs";
const RFC9449_Y: &str = "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA";
const RFC9449_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

fn coordinate(b64: &str) -> [u8; 32] {
    URL_SAFE_NO_PAD.decode(b64).unwrap().try_into().unwrap()
}

fn rfc9449_key() -> HolderPublicKey {
    HolderPublicKey::P256(
        P256PublicKey::from_coordinates(&coordinate(RFC9449_X), &coordinate(RFC9449_Y)).unwrap(),
    )
}

#[test]
fn p256_thumbprints_follow_rfc_7638() {
    let key = rfc9449_key();
    assert_eq!(key.jwk_thumbprint(), RFC9449_JKT);
    let jwk = key.to_jwk();
    assert_eq!(jwk["kty"], "EC");
    assert_eq!(jwk["crv"], "P-256");
    assert_eq!(jwk["x"], RFC9449_X);
    assert_eq!(jwk["y"], RFC9449_Y);
    // Ed25519 keys keep theirs (RFC 8037 appendix A.3).
    let ed = PublicKey::from_bytes(coordinate("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"));
    assert_eq!(
        HolderPublicKey::from(ed).jwk_thumbprint(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
}

#[test]
fn p256_keys_are_written_as_biscuit_prints_them_and_read_back() {
    let key = rfc9449_key();
    let text = key.to_string();
    let biscuit = key.to_biscuit().unwrap();
    assert_eq!(text, biscuit.to_string(), "Biscuit's own text form");
    assert_eq!(text.len(), "secp256r1/".len() + 66);
    assert_eq!(text.parse::<HolderPublicKey>().unwrap(), key);
    assert_eq!(
        text.to_uppercase()
            .replace("SECP256R1", "secp256r1")
            .parse::<HolderPublicKey>()
            .unwrap(),
        key
    );
    assert_eq!(HolderPublicKey::from_biscuit(&biscuit), Some(key));
    assert_eq!(key.algorithm(), HolderAlgorithm::P256);
    assert_eq!(key.as_ed25519(), None);
    // The fact bytes are the compressed point; the JWK's coordinates are the same key.
    let bytes = key.fact_bytes();
    assert_eq!(bytes.len(), 33);
    assert!(matches!(bytes[0], 2 | 3));
    let HolderPublicKey::P256(p) = key else {
        panic!("a P-256 key")
    };
    assert_eq!(P256PublicKey::from_sec1_bytes(&bytes), Some(p));
    let mut uncompressed = vec![4u8];
    uncompressed.extend_from_slice(p.x());
    uncompressed.extend_from_slice(p.y());
    assert_eq!(P256PublicKey::from_sec1_bytes(&uncompressed), Some(p));
    // Serde uses the text.
    let json = serde_json::to_string(&key).unwrap();
    assert_eq!(serde_json::from_str::<HolderPublicKey>(&json).unwrap(), key);
}

#[test]
fn ed25519_holder_keys_keep_their_forms() {
    let key = SigningKey::generate(&mut OsRng, None).public();
    let holder = HolderPublicKey::from(key);
    assert_eq!(holder.to_string(), key.to_string());
    assert_eq!(holder.fact_bytes(), key.to_bytes().to_vec());
    assert_eq!(holder.to_jwk(), key.to_jwk());
    assert_eq!(holder.jwk_thumbprint(), key.jwk_thumbprint());
    assert_eq!(key.to_string().parse::<HolderPublicKey>().unwrap(), holder);
    assert_eq!(holder.as_ed25519(), Some(&key));
    assert_eq!(
        HolderPublicKey::from_biscuit(&key.to_biscuit().unwrap()),
        Some(holder)
    );
}

#[test]
fn bad_holder_key_text_is_refused() {
    let good = rfc9449_key().to_string();
    let hex_part = good.trim_start_matches("secp256r1/");
    // x = 1: x³ - 3x + b is no square modulo p, so no point has it.
    let off_curve = format!("secp256r1/02{}", "00".repeat(31) + "01");
    let bad = [
        "secp256r1/00".to_owned(),                 // the identity's SEC1 form
        format!("secp256r1/04{}", &hex_part[2..]), // wrong length for 04
        format!("secp256r1/{}", &hex_part[..64]),  // a byte short
        format!("secp256r1/05{}", &hex_part[2..]), // SEC1's compact form
        format!("secp256r1/06{}", &hex_part[2..]), // not a SEC1 prefix
        off_curve,                                 // x with no point
        format!("p256/{hex_part}"),                // another prefix
        format!("ed25519/{hex_part}"),             // 33 bytes for Ed25519
        "secp256r1/zz".to_owned(),
        String::new(),
    ];
    for text in bad {
        let e = text.parse::<HolderPublicKey>().unwrap_err();
        assert!(matches!(e, KeyError::HolderKey(_)), "{text}: {e}");
        assert!(e.to_string().contains("`secp256r1/`"), "{e}");
    }
    // The uncompressed form is not a key's text: one spelling per key.
    let HolderPublicKey::P256(p) = rfc9449_key() else {
        panic!("a P-256 key")
    };
    let uncompressed = format!("secp256r1/04{}{}", hex::encode(p.x()), hex::encode(p.y()));
    assert!(uncompressed.parse::<HolderPublicKey>().is_err());
}

#[test]
fn holder_algorithms_are_named() {
    for (text, alg) in [
        ("ed25519", HolderAlgorithm::Ed25519),
        ("EdDSA", HolderAlgorithm::Ed25519),
        ("es256", HolderAlgorithm::P256),
        ("P256", HolderAlgorithm::P256),
        ("p-256", HolderAlgorithm::P256),
        ("secp256r1", HolderAlgorithm::P256),
    ] {
        assert_eq!(text.parse::<HolderAlgorithm>(), Ok(alg), "{text}");
    }
    let e = "rs256".parse::<HolderAlgorithm>().unwrap_err();
    assert!(
        e.to_string().contains("`rs256`") && e.to_string().contains("`es256`"),
        "{e}"
    );
    assert_eq!(
        HolderAlgorithm::from_jws_alg("ES256"),
        Some(HolderAlgorithm::P256)
    );
    assert_eq!(
        HolderAlgorithm::from_jws_alg("es256"),
        None,
        "JWS names are case-sensitive"
    );
    assert_eq!(HolderAlgorithm::P256.prefix(), "secp256r1");
}

#[test]
fn p256_signing_keys_round_trip_through_pem() {
    let key = P256SigningKey::generate(&mut OsRng);
    let pem = key.to_pem().unwrap();
    assert!(
        pem.starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "{}",
        pem.as_str()
    );
    let back = HolderSigningKey::from_pem(&pem).unwrap();
    assert_eq!(back.algorithm(), HolderAlgorithm::P256);
    assert_eq!(back.public(), key.holder_key());
    assert!(!format!("{back:?}").contains("PRIVATE"));
    // Ed25519 key files, with or without a key id line, read as before.
    let ed = SigningKey::generate(&mut OsRng, Some(crate::keys::KeyId(3)));
    let back = HolderSigningKey::from_pem(&ed.to_pem().unwrap()).unwrap();
    assert_eq!(back.public(), HolderPublicKey::Ed25519(ed.public()));
    // (OpenSSL's own P-256 files are read in warrant-cli's interop tests.)
    // Neither algorithm: a clear word, and what to do.
    for bad in [
        "hello",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ] {
        let e = HolderSigningKey::from_pem(bad).unwrap_err();
        assert_eq!(e, KeyError::HolderPrivateKey);
        assert!(e.to_string().contains("warrant agent keygen"), "{e}");
    }
}

#[test]
fn p256_keys_sign_what_their_public_half_verifies() {
    let key = HolderSigningKey::generate(HolderAlgorithm::P256, &mut OsRng);
    let sig = key.signature(b"challenge");
    assert_eq!(key.public().verify(b"challenge", &sig), Ok(()));
    assert_eq!(key.public().verify(b"challengf", &sig), Err(BadSignature));
    let other = HolderSigningKey::generate(HolderAlgorithm::P256, &mut OsRng);
    assert_eq!(other.public().verify(b"challenge", &sig), Err(BadSignature));
    // An Ed25519 signature of the same bytes is no P-256 signature, and the other way.
    let ed = HolderSigningKey::generate(HolderAlgorithm::Ed25519, &mut OsRng);
    assert_eq!(
        key.public()
            .verify(b"challenge", &ed.signature(b"challenge")),
        Err(BadSignature)
    );
    assert_eq!(ed.public().verify(b"challenge", &sig), Err(BadSignature));
    // RFC 6979 gives a high `s` for about half of all messages: warrant's are all low.
    let (key, message) = (1u8..)
        .find_map(|i| {
            use p256::ecdsa::signature::Signer as _;
            use p256::elliptic_curve::scalar::IsHigh as _;
            let key = P256SigningKey::from_secret_bytes(&[i; 32]).ok()?;
            let raw: p256::ecdsa::Signature = p256::ecdsa::SigningKey::from_slice(&[i; 32])
                .ok()?
                .sign(b"m");
            bool::from(raw.s().is_high()).then_some((key, b"m"))
        })
        .unwrap();
    let sig = key.sign_jws(message);
    let parsed = p256::ecdsa::Signature::from_slice(&sig).unwrap();
    assert!(!bool::from(p256::elliptic_curve::scalar::IsHigh::is_high(
        &*parsed.s()
    )));
    assert_eq!(
        key.holder_key()
            .verify(message, &Signature::from_bytes(sig)),
        Ok(())
    );
    let key = HolderSigningKey::generate(HolderAlgorithm::P256, &mut OsRng);
    // Deterministic (RFC 6979), and Biscuit signs blocks with the same secret.
    assert_eq!(key.sign_jws(b"x"), key.sign_jws(b"x"));
    let biscuit = key.biscuit_private_key().unwrap();
    assert_eq!(
        HolderPublicKey::from_biscuit(&biscuit.public()),
        Some(key.public())
    );
    // Secrets out of range are refused.
    assert!(P256SigningKey::from_secret_bytes(&[0; 32]).is_err());
    assert!(P256SigningKey::from_secret_bytes(&[0xff; 32]).is_err());
}
