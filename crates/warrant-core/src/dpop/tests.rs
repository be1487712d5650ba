use super::*;
use crate::keys::{KeyId, P256SigningKey, SigningKey};
use serde_json::Value as J;

const NOW: Timestamp = Timestamp::from_unix(1_796_032_800);

fn setup() -> (SigningKey, String) {
    let key = SigningKey::generate(&mut rand_core::OsRng, Some(KeyId(9)));
    let proof = create_proof(
        &key,
        "GET",
        "https://API.example:443/tickets/123?x=1#f",
        "TOKEN",
        NOW,
        &mut rand_core::OsRng,
    )
    .unwrap();
    (key, proof)
}

fn expected<'a>(holder: &'a HolderKey) -> Expected<'a> {
    Expected {
        holder,
        method: "GET",
        url: "https://api.example/tickets/123",
        token: "TOKEN",
        now: NOW,
        window: DEFAULT_PROOF_WINDOW,
    }
}

#[test]
fn a_proof_checks_out() {
    let (key, proof) = setup();
    let p = check_proof(&proof, &expected(&HolderKey::new(key.public()))).unwrap();
    assert_eq!(p.htu, "https://api.example/tickets/123");
    assert_eq!(p.iat, NOW);
    assert_eq!(p.jti.len(), 22);
}

#[test]
fn each_mismatch_is_refused() {
    let (key, proof) = setup();
    let holder = HolderKey::new(key.public());
    let other = HolderKey::new(SigningKey::generate(&mut rand_core::OsRng, None).public());
    let e = expected(&holder);
    assert!(matches!(
        check_proof(
            &proof,
            &Expected {
                holder: &other,
                ..e
            }
        ),
        Err(ProofError::NotHolder { .. })
    ));
    assert!(matches!(
        check_proof(
            &proof,
            &Expected {
                method: "POST",
                ..e
            }
        ),
        Err(ProofError::Method { .. })
    ));
    assert!(matches!(
        check_proof(
            &proof,
            &Expected {
                url: "https://api.example/tickets/124",
                ..e
            }
        ),
        Err(ProofError::Url { .. })
    ));
    assert!(matches!(
        check_proof(
            &proof,
            &Expected {
                token: "OTHER",
                ..e
            }
        ),
        Err(ProofError::Ath)
    ));
    assert!(matches!(
        check_proof(
            &proof,
            &Expected {
                now: NOW.plus(Span::from_seconds(61)),
                ..e
            }
        ),
        Err(ProofError::TooOld { .. })
    ));
    assert!(matches!(
        check_proof(
            &proof,
            &Expected {
                now: NOW.minus(Span::from_seconds(61)),
                ..e
            }
        ),
        Err(ProofError::FromTheFuture { .. })
    ));
    assert!(check_proof(
        &proof,
        &Expected {
            now: NOW.plus(Span::from_seconds(60)),
            ..e
        }
    )
    .is_ok());
}

#[test]
fn tampering_and_garbage_are_refused() {
    let (key, proof) = setup();
    let holder = HolderKey::new(key.public());
    let e = expected(&holder);
    let mut parts: Vec<String> = proof.split('.').map(str::to_owned).collect();
    // Change a claim without re-signing.
    let mut claims: J =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    claims["htm"] = "POST".into();
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    assert_eq!(
        check_proof(
            &parts.join("."),
            &Expected {
                method: "POST",
                ..e
            }
        ),
        Err(ProofError::Signature)
    );
    for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!", &"x".repeat(5000)] {
        assert!(
            matches!(check_proof(bad, &e), Err(ProofError::Malformed(_))),
            "{bad:.20}"
        );
    }
    let header = |h: J| {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(h.to_string()),
            parts[1],
            parts[2]
        )
    };
    assert!(matches!(
        check_proof(&header(json!({"typ": "JWT", "alg": "EdDSA"})), &e),
        Err(ProofError::Typ(_))
    ));
    assert_eq!(
        check_proof(&header(json!({"typ": "dpop+jwt", "alg": "none"})), &e),
        Err(ProofError::AlgNone)
    );
    assert!(matches!(
        check_proof(&header(json!({"typ": "dpop+jwt", "alg": "EdDSA"})), &e),
        Err(ProofError::Jwk)
    ));
    let mut jwk = holder.public().to_jwk();
    jwk["d"] = "secret".into();
    assert_eq!(
        check_proof(
            &header(json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": jwk})),
            &e
        ),
        Err(ProofError::PrivateJwk("d".into()))
    );
}

#[test]
fn the_request_url_is_normalised_unless_it_is_the_proofs() {
    let (key, proof) = setup();
    let holder = HolderKey::new(key.public());
    let e = expected(&holder);
    for url in [
        "https://api.example/tickets/123",
        "HTTPS://API.example:443/tickets/./123?other=query#f",
    ] {
        assert!(check_proof(&proof, &Expected { url, ..e }).is_ok(), "{url}");
    }
    assert!(matches!(
        check_proof(
            &proof,
            &Expected {
                url: "https://api.example/tickets/1234",
                ..e
            }
        ),
        Err(ProofError::Url { .. })
    ));
}

#[test]
fn a_holder_key_off_the_curve_verifies_nothing_and_members_are_not_repeated() {
    let (key, proof) = setup();
    // y = 2 is not the y of a point of edwards25519.
    let mut bytes = [0u8; 32];
    bytes[0] = 2;
    let off = HolderKey::new(PublicKey::from_bytes(bytes));
    let parts: Vec<&str> = proof.split('.').collect();
    let h = json!({"typ": DPOP_TYP, "alg": "EdDSA", "jwk": off.public().to_jwk()});
    let claiming_off = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(h.to_string()),
        parts[1],
        parts[2]
    );
    assert_eq!(
        check_proof(&claiming_off, &expected(&off)),
        Err(ProofError::Jwk)
    );
    let holder = HolderKey::new(key.public());
    let header = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    // The same member twice (a parser keeping the first would see another `alg`).
    let twice = header.replacen('{', r#"{"alg":"none","#, 1);
    let forged = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(twice),
        parts[1],
        parts[2]
    );
    assert!(matches!(
        check_proof(&forged, &expected(&holder)),
        Err(ProofError::Malformed(m)) if m.contains("repeats a member")
    ));
}

#[test]
fn urls_are_normalised() {
    assert_eq!(
        normalize_htu("HTTPS://Api.Example:443/a/./b/../c?q#f").unwrap(),
        "https://api.example/a/c"
    );
    assert_eq!(normalize_htu("http://api:80").unwrap(), "http://api/");
    assert_eq!(
        normalize_htu("http://api:8080/x").unwrap(),
        "http://api:8080/x"
    );
    assert!(normalize_htu("ftp://api/x").is_err());
    assert!(normalize_htu("/relative").is_err());
}

#[test]
fn ath_is_base64url_sha256() {
    // echo -n abc | sha256sum, base64url without padding
    assert_eq!(ath("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
}

// ES256 (P-256) proofs.

fn p256_key() -> P256SigningKey {
    P256SigningKey::generate(&mut rand_core::OsRng)
}

fn proof_by(key: &(impl HolderSigner + ?Sized)) -> String {
    create_proof(
        key,
        "GET",
        "https://api.example/tickets/123",
        "TOKEN",
        NOW,
        &mut rand_core::OsRng,
    )
    .unwrap()
}

/// The decoded JSON of part `i` of a compact JWS.
fn decoded(proof: &str, i: usize) -> J {
    let part = proof.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// `proof` with its header replaced by `h` (the claims and signature kept).
fn with_header(proof: &str, h: &J) -> String {
    let parts: Vec<&str> = proof.split('.').collect();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(h.to_string()),
        parts[1],
        parts[2]
    )
}

/// `proof` with its signature replaced by `sig`.
fn with_signature(proof: &str, sig: &[u8]) -> String {
    let (input, _) = proof.rsplit_once('.').unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

#[test]
fn an_es256_proof_checks_out_against_the_holder_read_from_its_text() {
    let key = p256_key();
    let proof = proof_by(&key);
    let header = decoded(&proof, 0);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["jwk"]["kty"], "EC");
    assert_eq!(header["jwk"]["crv"], "P-256");
    // The holder as a token names it: the compressed point, read from its text.
    let text = key.holder_key().to_string();
    assert!(text.starts_with("secp256r1/0"), "{text}");
    let holder = HolderKey::new(text.parse::<HolderPublicKey>().unwrap());
    let p = check_proof(&proof, &expected(&holder)).unwrap();
    assert_eq!(p.key, key.holder_key());
    assert_eq!(parse_proof(&proof).unwrap().key, key.holder_key());
    // Any change to what was signed breaks it.
    let mut claims = decoded(&proof, 1);
    claims["htm"] = "POST".into();
    let parts: Vec<&str> = proof.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert_eq!(
        check_proof(
            &forged,
            &Expected {
                method: "POST",
                ..expected(&holder)
            }
        ),
        Err(ProofError::Signature)
    );
}

#[test]
fn es256_signatures_are_deterministic_low_s_and_high_s_is_accepted() {
    use p256::elliptic_curve::scalar::IsHigh as _;
    let key = p256_key();
    let a = key.sign_jws(b"input");
    assert_eq!(
        a,
        key.sign_jws(b"input"),
        "RFC 6979: the same input, the same signature"
    );
    let sig = p256::ecdsa::Signature::from_slice(&a).unwrap();
    assert!(!bool::from(sig.s().is_high()), "warrant signs with low s");
    // The same signature with s replaced by n - s verifies too (documented: RFC 7518
    // asks for no low-S, and nothing is keyed by the signature's bytes).
    let proof = proof_by(&key);
    let (_, s) = proof.rsplit_once('.').unwrap();
    let sig = p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
    let (r, s) = sig.split_scalars();
    let high = p256::ecdsa::Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
    assert!(bool::from(high.s().is_high()));
    let holder = HolderKey::new(key.holder_key());
    let high_proof = with_signature(&proof, &high.to_bytes());
    assert!(check_proof(&high_proof, &expected(&holder)).is_ok());
}

#[test]
fn es256_signatures_out_of_range_or_in_der_are_refused() {
    let key = p256_key();
    let holder = HolderKey::new(key.holder_key());
    let proof = proof_by(&key);
    let (_, s) = proof.rsplit_once('.').unwrap();
    let raw = URL_SAFE_NO_PAD.decode(s).unwrap();
    // DER, as some libraries hand it out: a clear word about the encoding.
    let der = p256::ecdsa::Signature::from_slice(&raw).unwrap().to_der();
    let e = check_proof(&with_signature(&proof, der.as_bytes()), &expected(&holder)).unwrap_err();
    assert!(
        matches!(e, ProofError::SignatureLength { alg: "ES256", .. }),
        "{e}"
    );
    assert!(e.to_string().contains("not DER"), "{e}");
    // r or s zero, or not below the group order n.
    let n =
        hex::decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551").unwrap();
    let mut zero_r = raw.clone();
    zero_r[..32].fill(0);
    let mut zero_s = raw.clone();
    zero_s[32..].fill(0);
    let mut s_is_n = raw.clone();
    s_is_n[32..].copy_from_slice(&n);
    let mut r_all_ones = raw.clone();
    r_all_ones[..32].fill(0xff);
    for bad in [zero_r, zero_s, s_is_n, r_all_ones] {
        assert_eq!(
            check_proof(&with_signature(&proof, &bad), &expected(&holder)),
            Err(ProofError::Signature)
        );
    }
}

#[test]
fn a_proof_by_a_key_of_the_other_algorithm_is_not_the_holders() {
    let ed = SigningKey::generate(&mut rand_core::OsRng, None);
    let p = p256_key();
    let (ed_holder, p_holder) = (HolderKey::new(ed.public()), HolderKey::new(p.holder_key()));
    let e = check_proof(&proof_by(&p), &expected(&ed_holder)).unwrap_err();
    assert!(
        matches!(&e, ProofError::NotHolder { found, holder } if found.starts_with("secp256r1/") && holder.starts_with("ed25519/")),
        "{e}"
    );
    let e = check_proof(&proof_by(&ed), &expected(&p_holder)).unwrap_err();
    assert!(
        matches!(&e, ProofError::NotHolder { found, .. } if found.starts_with("ed25519/")),
        "{e}"
    );
}

#[test]
fn algorithms_other_than_eddsa_and_es256_are_refused_each_with_its_reason() {
    let key = p256_key();
    let proof = proof_by(&key);
    let holder = HolderKey::new(key.holder_key());
    let jwk = key.holder_key().to_jwk();
    let refused = |alg: J| {
        check_proof(
            &with_header(&proof, &json!({"typ": DPOP_TYP, "alg": alg, "jwk": jwk})),
            &expected(&holder),
        )
        .unwrap_err()
    };
    assert_eq!(refused(json!("none")), ProofError::AlgNone);
    for hs in ["HS256", "HS384", "HS512"] {
        assert_eq!(refused(json!(hs)), ProofError::SymmetricAlg(hs.into()));
    }
    for other in [
        "RS256", "ES384", "ES512", "PS256", "es256", "EDDSA", "Ed25519", "None",
    ] {
        let e = refused(json!(other));
        assert_eq!(e, ProofError::Alg(other.into()));
        let text = e.to_string();
        assert!(
            text.contains(&format!("`{other}`"))
                && text.contains("`EdDSA`")
                && text.contains("`ES256`"),
            "{text}"
        );
    }
    assert!(matches!(refused(json!(256)), ProofError::Malformed(m) if m.contains("`alg`")));
    // Every message is one lowercase line.
    for e in [
        ProofError::AlgNone,
        ProofError::SymmetricAlg("HS256".into()),
        ProofError::SymmetricJwk,
        ProofError::PrivateJwk("d".into()),
        ProofError::Alg("RS256".into()),
        ProofError::Jwk,
    ] {
        let text = e.to_string();
        assert!(!text.contains('\n') && text.starts_with("the "), "{text}");
    }
}

#[test]
fn a_jwk_that_is_symmetric_private_or_of_the_other_algorithm_is_refused() {
    let key = p256_key();
    let proof = proof_by(&key);
    let holder = HolderKey::new(key.holder_key());
    let jwk = key.holder_key().to_jwk();
    let check = |alg: &str, jwk: &J| {
        check_proof(
            &with_header(&proof, &json!({"typ": DPOP_TYP, "alg": alg, "jwk": jwk})),
            &expected(&holder),
        )
    };
    for member in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        let mut private = jwk.clone();
        private[member] = "c2VjcmV0".into();
        assert_eq!(
            check("ES256", &private),
            Err(ProofError::PrivateJwk(member.into())),
            "{member}"
        );
    }
    assert_eq!(
        check("EdDSA", &json!({"kty": "oct", "alg": "HS256"})),
        Err(ProofError::SymmetricJwk)
    );
    assert_eq!(
        check("HS256", &json!({"kty": "oct", "k": "c2VjcmV0"})),
        Err(ProofError::SymmetricAlg("HS256".into()))
    );
    let ed_jwk = SigningKey::generate(&mut rand_core::OsRng, None)
        .public()
        .to_jwk();
    let e = check("ES256", &ed_jwk).unwrap_err();
    assert_eq!(
        e,
        ProofError::JwkMismatch {
            alg: "ES256".into(),
            jwk: "an `OKP` key on `Ed25519`".into()
        }
    );
    assert!(e.to_string().contains("`ES256` an `EC` `P-256` key"), "{e}");
    assert!(
        matches!(check("EdDSA", &jwk), Err(ProofError::JwkMismatch { alg, .. }) if alg == "EdDSA")
    );
    let mut p384 = jwk.clone();
    p384["crv"] = "P-384".into();
    assert!(matches!(
        check("ES256", &p384),
        Err(ProofError::JwkMismatch { .. })
    ));
    let mut no_crv = jwk.clone();
    no_crv.as_object_mut().unwrap().remove("crv");
    assert!(
        matches!(check("ES256", &no_crv), Err(ProofError::JwkMismatch { jwk, .. }) if jwk.contains("no `crv`"))
    );
}

#[test]
fn a_p256_jwk_must_be_a_point_of_the_curve_given_in_full() {
    let key = p256_key();
    let proof = proof_by(&key);
    let holder = HolderKey::new(key.holder_key());
    let jwk = key.holder_key().to_jwk();
    let check = |jwk: &J| {
        check_proof(
            &with_header(
                &proof,
                &json!({"typ": DPOP_TYP, "alg": "ES256", "jwk": jwk}),
            ),
            &expected(&holder),
        )
    };
    let zero = URL_SAFE_NO_PAD.encode([0u8; 32]);
    let mut cases = Vec::new();
    let mut no_y = jwk.clone();
    no_y.as_object_mut().unwrap().remove("y");
    cases.push(no_y);
    // The identity has no affine coordinates; (0, 0) is not on the curve.
    let mut origin = jwk.clone();
    origin["x"] = zero.clone().into();
    origin["y"] = zero.into();
    cases.push(origin);
    // y off by one: a point off the curve.
    let mut off = jwk.clone();
    let mut y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap();
    y[31] ^= 1;
    off["y"] = URL_SAFE_NO_PAD.encode(&y).into();
    cases.push(off);
    // A coordinate without its leading zero byte (RFC 7518: the full 32 bytes).
    let mut short = jwk.clone();
    short["x"] = URL_SAFE_NO_PAD.encode([7u8; 31]).into();
    cases.push(short);
    let mut number = jwk.clone();
    number["x"] = 5.into();
    cases.push(number);
    for bad in &cases {
        assert_eq!(check(bad), Err(ProofError::Jwk), "{bad}");
        assert_eq!(
            parse_proof(&with_header(
                &proof,
                &json!({"typ": DPOP_TYP, "alg": "ES256", "jwk": bad})
            )),
            Err(ProofError::Jwk),
            "{bad}"
        );
    }
    // A member twice inside the `jwk`.
    let header = json!({"typ": DPOP_TYP, "alg": "ES256", "jwk": jwk}).to_string();
    let twice = header.replacen(r#""kty":"EC""#, r#""kty":"EC","x":"AA""#, 1);
    let parts: Vec<&str> = proof.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(twice),
        parts[1],
        parts[2]
    );
    assert!(
        matches!(check_proof(&forged, &expected(&holder)), Err(ProofError::Malformed(m)) if m.contains("repeats"))
    );
}

/// RFC 9449 figure 2: a proof made by someone else's ES256 implementation, and the
/// thumbprint RFC 9449 publishes for its key. It has no `ath`: it is a token request's
/// proof, which a token endpoint accepts and a request with a token refuses.
#[test]
fn the_rfc_9449_example_proof_verifies() {
    let proof = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";
    let at = Timestamp::from_unix(1_562_262_616);
    let url = "https://server.example.com/token";
    let p = check_token_request_proof(proof, "POST", url, at, DEFAULT_PROOF_WINDOW).unwrap();
    assert_eq!(p.ath, "");
    let holder = HolderKey::new(p.key);
    let with_token = Expected {
        holder: &holder,
        method: "POST",
        url,
        token: "a-token",
        now: at,
        window: DEFAULT_PROOF_WINDOW,
    };
    assert_eq!(
        check_proof(proof, &with_token),
        Err(ProofError::Malformed(
            "the claim `ath` is missing or not a string".into()
        ))
    );
    let jwk = JwkKey::P256 {
        x: URL_SAFE_NO_PAD
            .decode("l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs")
            .unwrap()
            .try_into()
            .unwrap(),
        y: URL_SAFE_NO_PAD
            .decode("9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA")
            .unwrap()
            .try_into()
            .unwrap(),
    };
    let key = jwk.prepare().unwrap();
    assert_eq!(
        key.public().jwk_thumbprint(),
        "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    );
    assert_eq!(header_key(proof.split('.').next().unwrap()), Ok(jwk));
    let parts = split(proof).unwrap();
    assert_eq!(verify_signature(proof, parts, &key), Ok(()));
    let tampered = proof.replacen(
        ".eyJqdGkiOiItQndDM0VTYzZhY2MybFRj",
        ".eyJqdGkiOiItQndDM0VTYzZhY2MybFRk",
        1,
    );
    assert_eq!(
        verify_signature(&tampered, split(&tampered).unwrap(), &key),
        Err(ProofError::Signature)
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// A random P-256 key round-trips through its text, its JWK and its thumbprint; its
    /// proofs are its own and refused for a key of the other algorithm.
    #[test]
    fn random_p256_keys_round_trip_and_prove_only_for_themselves(seed in proptest::array::uniform32(proptest::prelude::any::<u8>()), ed_seed in proptest::array::uniform32(proptest::prelude::any::<u8>())) {
        let Ok(key) = P256SigningKey::from_secret_bytes(&seed) else {
            // Zero, or not below the group order: about 2^-32 of seeds.
            return Ok(());
        };
        let public = key.holder_key();
        let text = public.to_string();
        proptest::prop_assert_eq!(text.len(), "secp256r1/".len() + 66);
        proptest::prop_assert_eq!(text.parse::<HolderPublicKey>(), Ok(public));
        let jwk = public.to_jwk();
        let x: [u8; 32] = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap_or_default()).unwrap_or_default().try_into().unwrap_or_default();
        let y: [u8; 32] = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap_or_default()).unwrap_or_default().try_into().unwrap_or_default();
        let from_jwk = crate::keys::P256PublicKey::from_coordinates(&x, &y).map(HolderPublicKey::P256);
        proptest::prop_assert_eq!(from_jwk, Some(public));
        // RFC 7638: the thumbprint is that of the canonical JWK members.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#, jwk["x"].as_str().unwrap_or_default(), jwk["y"].as_str().unwrap_or_default());
        proptest::prop_assert_eq!(public.jwk_thumbprint(), URL_SAFE_NO_PAD.encode(Sha256::digest(canonical)));
        proptest::prop_assert_eq!(HolderPublicKey::from_biscuit(&public.to_biscuit().unwrap()), Some(public));
        let proof = proof_by(&key);
        let own = HolderKey::new(public);
        proptest::prop_assert!(check_proof(&proof, &expected(&own)).is_ok());
        let ed = SigningKey::from_secret_bytes(&ed_seed, None).unwrap();
        let other = HolderKey::new(ed.public());
        proptest::prop_assert!(matches!(check_proof(&proof, &expected(&other)), Err(ProofError::NotHolder { .. })), "a P-256 proof for an Ed25519 holder");
        proptest::prop_assert!(matches!(check_proof(&proof_by(&ed), &expected(&own)), Err(ProofError::NotHolder { .. })), "an Ed25519 proof for a P-256 holder");
    }
}

/// A proof as a client makes it for a token endpoint: no `ath`.
fn without_ath(key: &SigningKey, htm: &str, htu: &str, iat: u64) -> String {
    let header = json!({ "typ": DPOP_TYP, "alg": "EdDSA", "jwk": key.public().to_jwk() });
    let claims = json!({ "htm": htm, "htu": htu, "iat": iat, "jti": "j1" });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()))
    )
}

#[test]
fn token_endpoint_proofs_need_no_ath_and_proofs_with_a_token_do() {
    let key = SigningKey::generate(&mut rand_core::OsRng, None);
    let url = "https://issuer.example/token";
    let p = without_ath(&key, "POST", url, NOW.unix());
    let ok = check_token_request_proof(&p, "POST", url, NOW, DEFAULT_PROOF_WINDOW).unwrap();
    assert_eq!(
        (ok.key, ok.ath.as_str()),
        (HolderPublicKey::from(key.public()), "")
    );
    let window = DEFAULT_PROOF_WINDOW;
    for (bad, says) in [
        (
            without_ath(&key, "GET", url, NOW.unix()),
            "for method `GET`",
        ),
        (
            without_ath(&key, "POST", "https://issuer.example/other", NOW.unix()),
            "/other",
        ),
        (
            without_ath(&key, "POST", url, NOW.unix() - 61),
            "before the request time",
        ),
        (
            without_ath(&key, "POST", url, NOW.unix() + 61),
            "after the request time",
        ),
    ] {
        let e = check_token_request_proof(&bad, "POST", url, NOW, window).unwrap_err();
        assert!(e.to_string().contains(says), "{says}: {e}");
    }
    // Presented with a token, a proof without `ath` is refused, naming it.
    let holder = HolderKey::new(key.public());
    let e = check_proof(
        &p,
        &Expected {
            holder: &holder,
            method: "POST",
            url,
            token: "",
            now: NOW,
            window,
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("`ath` is missing"), "{e}");
}
