//! Per-backend egress: a proxy, a private CA and a client certificate
//! (mTLS), each for one backend only.

use crate::{World, header, spawn, user};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");

fn pem(name: &str) -> Vec<u8> {
    std::fs::read(format!("{TLS}/{name}")).expect("fixture")
}

#[tokio::test]
async fn a_backend_proxy_carries_its_calls_and_no_one_elses() {
    let w = World::new().await;
    // The fake OpenAI server is the proxy: a proxied plain-HTTP call comes
    // to it in absolute form, naming the real host.
    let toml = w.toml("").replace(
        &format!("base_url = \"http://{}/v1\"", w.lmstudio.addr),
        &format!(
            "base_url = \"http://lmstudio.internal:1234/v1\"\nproxy = \"http://{}\"",
            w.lmstudio.addr
        ),
    );
    let app = spawn(&toml).await;
    let r = app.chat(user("hi")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "lmstudio");
    let sent = w.lmstudio.last();
    assert_eq!(sent.headers["host"], "lmstudio.internal:1234");
    assert_eq!(sent.path, "/v1/chat/completions");
    // Another backend's calls do not go through it.
    let before = w.lmstudio.count();
    let r = app.chat(user("mail jane@example.com today")).await;
    assert_eq!(header(&r, "x-airlock-backend"), "ollama");
    assert_eq!(w.lmstudio.count(), before);
}

/// A TLS server for 127.0.0.1 (certificate from the test CA) that asks for
/// a client certificate from that CA, and answers every request with an
/// OpenAI model list or chat completion; counts completed requests.
async fn mtls_server(served: Arc<AtomicUsize>) -> SocketAddr {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&pem("ca.pem")) {
        roots.add(c.expect("ca")).expect("add");
    }
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
            .build()
            .expect("verifier");
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem("server.pem"))
        .map(|c| c.expect("cert"))
        .collect();
    let key = PrivateKeyDer::from_pem_slice(&pem("server.key")).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            let served = served.clone();
            tokio::spawn(async move {
                // A client without a certificate fails here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                // One request per connection: its head, then its body.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let Ok(n) = tls.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + length {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let body = if head.starts_with("get ") {
                    r#"{"object":"list","data":[{"id":"m","object":"model","created":1,"owned_by":"x"}]}"#
                        .to_owned()
                } else {
                    served.fetch_add(1, Ordering::SeqCst);
                    r#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"over mTLS"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#
                        .to_owned()
                };
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

fn private_backend(addr: SocketAddr, egress: &str) -> String {
    format!(
        r#"
[retries]
attempts = 1
[[backends]]
name = "private"
protocol = "openai"
base_url = "https://127.0.0.1:{port}/v1"
tier = "private_cloud"
models = ["m"]
{egress}
[pools]
p = ["private/m"]
[[rules]]
name = "default"
pool = "p"
"#,
        port = addr.port()
    )
}

#[tokio::test]
async fn a_private_ca_and_a_client_certificate_reach_an_mtls_endpoint() {
    let served = Arc::new(AtomicUsize::new(0));
    let addr = mtls_server(served.clone()).await;
    let ca = format!("ca_file = \"{TLS}/ca.pem\"");
    let identity =
        format!("client_cert_file = \"{TLS}/client.pem\"\nclient_key_file = \"{TLS}/client.key\"");

    // Both: served.
    let app = spawn(&private_backend(addr, &format!("{ca}\n{identity}"))).await;
    let r = app.chat(user("hi")).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["choices"][0]["message"]["content"], "over mTLS");
    assert_eq!(served.load(Ordering::SeqCst), 1);

    // Without the CA the server is not trusted; without the certificate
    // the server refuses the handshake. Neither request is served.
    for egress in [identity.as_str(), ca.as_str(), ""] {
        let app = spawn(&private_backend(addr, egress)).await;
        let r = app.chat(user("hi")).await;
        // The TLS failure is a connect error (503) or, when the server
        // refuses the certificate after the handshake, a lost connection (502).
        assert!(
            matches!(r.status().as_u16(), 502 | 503),
            "egress {egress:?}: {}",
            r.status()
        );
    }
    assert_eq!(served.load(Ordering::SeqCst), 1);
}

#[test]
fn egress_settings_are_checked_with_their_keys() {
    let base = |egress: &str| private_backend(SocketAddr::from(([127, 0, 0, 1], 9)), egress);
    let errors = |toml: &str| -> Vec<String> {
        match airlock::config::from_toml_str(toml, &|_| None) {
            Ok(_) => Vec::new(),
            Err(issues) => issues.iter().map(|i| i.to_string()).collect(),
        }
    };
    for (egress, key, says) in [
        (
            "proxy = \"socks5://127.0.0.1:1080\"".to_owned(),
            "backends[0].proxy",
            "is not a proxy URL",
        ),
        (
            "ca_file = \"/nonexistent/ca.pem\"".to_owned(),
            "backends[0].ca_file",
            "cannot read",
        ),
        (
            format!("ca_file = \"{TLS}/client.key\""),
            "backends[0].ca_file",
            "holds no PEM certificate",
        ),
        (
            format!("client_cert_file = \"{TLS}/client.pem\""),
            "backends[0].client_key_file",
            "is needed with client_cert_file",
        ),
        (
            format!("client_cert_file = \"{TLS}/ca.pem\"\nclient_key_file = \"{TLS}/ca.pem\""),
            "backends[0].client_cert_file",
            "not a PEM certificate and private key",
        ),
    ] {
        let errs = errors(&base(&egress));
        assert!(
            errs.iter()
                .any(|e| e.starts_with(&format!("{key}: ")) && e.contains(says)),
            "{egress}: {errs:#?}"
        );
    }
    // The key never shows in debug output.
    let c = airlock::config::from_toml_str(
        &base(&format!(
            "client_cert_file = \"{TLS}/client.pem\"\nclient_key_file = \"{TLS}/client.key\""
        )),
        &|_| None,
    )
    .expect("valid")
    .config;
    let debug = format!("{:?}", c.backends[0]);
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");
}
