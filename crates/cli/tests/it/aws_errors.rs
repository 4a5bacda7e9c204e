//! AWS errors as a person sees them (one line: the service and operation, AWS's code and
//! message, what to do), `--region` and `--profile` on every subcommand that calls AWS, and the
//! advice when no region is set. A local HTTP server plays S3 and answers 403 AccessDenied; it
//! keeps the requests, whose signature shows the region and the key actually used.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

/// A server that answers every request with S3's AccessDenied; the request heads it got.
fn denying_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            keep.lock().unwrap().push(String::from_utf8_lossy(&head).into_owned());
            let body =
                "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>r1</RequestId></Error>";
            let _ = write!(
                s,
                "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}

/// A home with no AWS settings but `files` (relative path, text).
fn home(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lg-aws-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    for (path, text) in files {
        let p = d.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The binary with no AWS setting of this machine's: only `home` and `env`.
fn lg(home: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_launchguard"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k == "LEDGER_BUCKET" || k == "INCIDENT_LOG_GROUP" {
            c.env_remove(k);
        }
    }
    c.env("HOME", home).env("AWS_EC2_METADATA_DISABLED", "true").env("AWS_MAX_ATTEMPTS", "1");
    c.envs(env.iter().copied()).args(args).stdin(Stdio::null()).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn with_no_region_anywhere_every_aws_subcommand_says_how_to_set_one() {
    let h = home("no-region", &[]);
    for args in [
        &["scan", "s3://trail/AWSLogs/"][..],
        &["report", "--since", "2026-11-01", "--ledger-bucket", "l"],
        &["release", "--finding", "lg-1", "--reason", "test", "--dry-run"],
    ] {
        let o = lg(&h, &[], args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert!(e.contains("no AWS region") && e.contains("--region") && e.contains("AWS_REGION"), "{args:?}: {e}");
    }
}

#[test]
fn an_aws_error_is_one_line_with_the_operation_the_code_and_what_to_do() {
    let (url, _) = denying_server();
    let h = home("denied", &[]);
    let env = [("AWS_ENDPOINT_URL_S3", url.as_str()), ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"), ("AWS_SECRET_ACCESS_KEY", "secret")];
    let o = lg(&h, &env, &["scan", "--region", "us-east-1", "s3://trail/AWSLogs/"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    for part in ["s3:ListObjectsV2", "Access Denied", "AccessDenied", "HTTP 403", "What to do:", "--profile"] {
        assert!(e.contains(part), "{part}: {e}");
    }
    assert!(!e.contains('{') && e.len() < 400, "a dump: {e}");
}

#[test]
fn profile_gives_the_region_and_the_credentials_region_overrides_it() {
    let (url, seen) = denying_server();
    let h = home(
        "profile",
        &[
            (".aws/config", "[profile audit]\nregion = eu-west-3\n"),
            (".aws/credentials", "[audit]\naws_access_key_id = AKIDFROMPROFILE\naws_secret_access_key = s\n"),
        ],
    );
    let env = [("AWS_ENDPOINT_URL_S3", url.as_str())];
    // without --profile: no region, refused before any call
    let o = lg(&h, &env, &["scan", "s3://trail/AWSLogs/"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(seen.lock().unwrap().is_empty());
    // --profile: its region and its key sign the request
    let o = lg(&h, &env, &["scan", "--profile", "audit", "s3://trail/AWSLogs/"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let heads = seen.lock().unwrap().clone();
    assert!(heads.iter().any(|r| r.contains("Credential=AKIDFROMPROFILE/") && r.contains("/eu-west-3/s3/aws4_request")), "{heads:?}");
    // --region wins over the profile's
    let o = lg(&h, &env, &["scan", "--profile", "audit", "--region", "ap-south-1", "s3://trail/AWSLogs/"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(seen.lock().unwrap().iter().any(|r| r.contains("/ap-south-1/s3/aws4_request")));
}
