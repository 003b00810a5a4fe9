//! The guard in front of an unauthenticated local server (auth mode `none`, which config allows
//! only on a loopback address).
//!
//! Loopback alone does not keep other people out, because the person's own browser is on
//! loopback too, and it runs whatever pages it visits:
//! - **DNS rebinding**: `evil.example` first resolves to its own server, then to 127.0.0.1; its
//!   page can then read `http://evil.example:8080/api/...` as same-origin. Its requests carry
//!   `Host: evil.example:8080`, so any request whose `Host` is not a loopback name is refused.
//! - **CSRF**: any page may send a form POST or a body-less `fetch` to `http://127.0.0.1:8080`
//!   (no preflight for those). Browsers mark such requests with `Origin` and `Sec-Fetch-Site`,
//!   so a state-changing request from an origin that is neither this server nor a configured
//!   CORS origin is refused.
//!
//! Requests without those headers come from programs (curl, SDKs, tests), not from a page a
//! person happened to open, and pass.

use axum::http::{header, uri::Authority, HeaderMap, Method, StatusCode};

use super::Problem;

pub(super) fn check(
    method: &Method,
    headers: &HeaderMap,
    allowed_origins: &[String],
) -> Result<(), Problem> {
    let forbidden = |detail: String| Err(Problem::new(StatusCode::FORBIDDEN, detail));
    let host = headers.get(header::HOST).map(|h| h.to_str().unwrap_or(""));
    if let Some(host) = host {
        if !is_loopback_host(host) {
            return forbidden(format!(
                "this server answers only to loopback names (localhost, 127.0.0.1, [::1]), not `{host}`"
            ));
        }
    }
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let same_origin = host.is_some_and(|host| {
            origin == format!("http://{host}") || origin == format!("https://{host}")
        });
        if !same_origin && !allowed_origins.iter().any(|allowed| allowed == origin) {
            return forbidden(format!(
                "a change requested by the page at `{origin}` is refused: add it to http.cors_origins if it is yours"
            ));
        }
        return Ok(());
    }
    if headers
        .get("sec-fetch-site")
        .is_some_and(|site| site == "cross-site")
    {
        return forbidden("a change requested by another site's page is refused".into());
    }
    Ok(())
}

fn is_loopback_host(host: &str) -> bool {
    let Ok(authority) = host.parse::<Authority>() else {
        return false;
    };
    let name = authority.host();
    let name = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    header::HeaderName::from_static(k),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    fn status(method: Method, pairs: &[(&'static str, &str)]) -> u16 {
        let allowed = ["http://localhost:5173".to_string()];
        match check(&method, &headers(pairs), &allowed) {
            Ok(()) => 200,
            Err(problem) => problem.status().as_u16(),
        }
    }

    #[test]
    fn loopback_names_pass_and_a_rebound_name_is_refused() {
        for host in [
            "localhost:8080",
            "127.0.0.1:8080",
            "127.1.2.3",
            "[::1]:8080",
            "LOCALHOST",
        ] {
            assert_eq!(status(Method::GET, &[("host", host)]), 200, "{host}");
        }
        for host in [
            "evil.example:8080",
            "localhost.evil.example",
            "10.0.0.1:8080",
            "",
        ] {
            assert_eq!(status(Method::GET, &[("host", host)]), 403, "{host}");
        }
    }

    #[test]
    fn a_change_from_this_server_or_an_allowed_origin_passes() {
        let host = ("host", "127.0.0.1:8080");
        assert_eq!(
            status(Method::POST, &[host, ("origin", "http://127.0.0.1:8080")]),
            200
        );
        assert_eq!(
            status(Method::DELETE, &[host, ("origin", "http://localhost:5173")]),
            200
        );
        assert_eq!(status(Method::POST, &[host]), 200, "a program, not a page");
    }

    #[test]
    fn a_change_from_another_page_is_refused() {
        let host = ("host", "127.0.0.1:8080");
        assert_eq!(
            status(Method::POST, &[host, ("origin", "https://evil.example")]),
            403
        );
        assert_eq!(status(Method::PUT, &[host, ("origin", "null")]), 403);
        assert_eq!(
            status(Method::POST, &[host, ("sec-fetch-site", "cross-site")]),
            403
        );
        assert_eq!(
            status(Method::GET, &[host, ("origin", "https://evil.example")]),
            200,
            "reads are left to CORS, which keeps the answer from the page"
        );
    }
}
