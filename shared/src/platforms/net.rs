//! Outbound HTTP to addresses that come from users: the one place the adapters' HTTP client is
//! built, and the guard against server-side request forgery.
//!
//! The networks' clients fetch URLs that Herald's users choose: media URLs of posts, a Mastodon
//! channel's `instance_url`, a Bluesky channel's `service` (its PDS), and wherever those answer
//! with a redirect. Left alone, a user could make Herald fetch `http://169.254.169.254/…` (the
//! cloud metadata service: a Lambda's own credentials), `http://127.0.0.1:8080/…` or anything
//! else on the private network it runs in. With [`NetworkPolicy::PublicOnly`] (the default) the
//! adapters' client (`HttpClient`) refuses every address that is not public ([`classify`]):
//!
//! - **names** are resolved by [`GuardedResolver`], which drops every non-public address from
//!   the answer and fails with [`Refused::Resolves`] when none is left. This is the client's
//!   resolver, so it is asked at connect time for every connection, redirect hops included.
//!   DNS rebinding between the check and the connection is closed: the connection is made to
//!   exactly the addresses this resolver returned, nothing resolves the name a second time.
//! - **IP literals** (`http://127.0.0.1/`, `http://[::ffff:a9fe:a9fe]/`, `http://2130706433/`)
//!   never reach a resolver, so `HttpClient::execute` checks the URL's host, parsed as an
//!   [`IpAddr`] (the `url` crate has already normalised the odd IPv4 spellings), before sending,
//!   and the redirect policy checks every hop the same way ([`Refused::Literal`]), with at most
//!   [`MAX_REDIRECTS`] hops.
//! - system proxies (`HTTP_PROXY`…) are ignored: through a proxy the proxy resolves the name,
//!   and the guard would only see the proxy's address.
//!
//! A refusal is not retried: the adapters turn it into [`super::PublishError::Permanent`] naming
//! the URL, the address and the switch (the metrics and inbox pollers simply meet it again on
//! their next scheduled round).
//!
//! [`NetworkPolicy::AllowPrivate`] (`HERALD_ALLOW_PRIVATE_NETWORK=1`, read only by the hosts:
//! `local::DataDir::adapters` and `aws::AwsContext::ports`) is for local development and the
//! test rigs, whose fake networks listen on loopback.
//!
//! Out of scope, on purpose: the outgoing event webhooks (`events.rs`; their URLs are set by
//! the operator with `--webhook-url`/`HERALD_WEBHOOK_URLS`, not by users) and the Lambda Runtime API client
//! (`lambda.rs`; its address is given by Lambda in `AWS_LAMBDA_RUNTIME_API`). They build their
//! own clients.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Client, ClientBuilder, IntoUrl, RequestBuilder, Response, Url};

/// The environment variable the hosts read to allow private addresses.
pub const ALLOW_PRIVATE_ENV: &str = "HERALD_ALLOW_PRIVATE_NETWORK";

/// Redirects followed at most, per request.
pub const MAX_REDIRECTS: usize = 5;

/// Which addresses the networks' clients may connect to. Passed explicitly to every adapter;
/// the default refuses private ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkPolicy {
    /// Public addresses only: what production runs.
    #[default]
    PublicOnly,
    /// Any address, loopback and private networks included: local development and the test
    /// rigs' fake servers (`HERALD_ALLOW_PRIVATE_NETWORK=1`).
    AllowPrivate,
}

/// `HERALD_ALLOW_PRIVATE_NETWORK` holds something that is neither yes nor no.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{ALLOW_PRIVATE_ENV} must be 1 (allow private addresses) or 0 (refuse them), not `{value}`")]
pub struct SwitchError {
    pub value: String,
}

impl NetworkPolicy {
    /// The policy a value of `HERALD_ALLOW_PRIVATE_NETWORK` asks for: `1`/`true` allow, unset,
    /// empty, `0`/`false` refuse; anything else is an error rather than a guess.
    pub fn from_switch(value: Option<&str>) -> Result<Self, SwitchError> {
        match value.map(str::trim) {
            None | Some("" | "0") => Ok(Self::PublicOnly),
            Some("1") => Ok(Self::AllowPrivate),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Self::PublicOnly),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Self::AllowPrivate),
            Some(v) => Err(SwitchError { value: v.chars().take(40).collect() }),
        }
    }

    /// Reads `HERALD_ALLOW_PRIVATE_NETWORK`. Only the hosts call this; everything below them
    /// takes the policy as an argument. Says so in the log when private addresses are allowed.
    pub fn from_env() -> Result<Self, SwitchError> {
        let value = std::env::var(ALLOW_PRIVATE_ENV).ok();
        let policy = Self::from_switch(value.as_deref())?;
        if policy == Self::AllowPrivate {
            tracing::warn!("{ALLOW_PRIVATE_ENV}=1: the networks' clients may reach loopback and private addresses");
        }
        Ok(policy)
    }
}

// ---------------------------------------------------------------------------------------------
// Which addresses are not public

/// Why an address is not public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonPublic {
    /// `0.0.0.0/8`, `::` (Linux connects `0.0.0.0` to the machine itself).
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `10/8`, `172.16/12`, `192.168/16`, and the deprecated IPv6 site-local `fec0::/10`.
    Private,
    /// `100.64/10`, carrier-grade NAT (Alibaba Cloud's metadata service is in it).
    SharedAddressSpace,
    /// `169.254/16`, `fe80::/10`.
    LinkLocal,
    /// The cloud instance metadata services: `169.254.169.254`, `169.254.170.2` (ECS task
    /// metadata), `fd00:ec2::254` (EC2 over IPv6).
    CloudMetadata,
    /// `fc00::/7`.
    UniqueLocal,
    /// `224/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18/15`.
    Benchmarking,
    /// Special-purpose ranges that no public server uses: `192.0.0/24` (IETF protocol
    /// assignments; Oracle Cloud's metadata is `192.0.0.192`), `240/4`, `100::/64`,
    /// `2001::/23` (Teredo and other protocol assignments), `64:ff9b:1::/48` (local NAT64),
    /// and IPv4-compatible IPv6 addresses (`::a.b.c.d`, deprecated).
    Reserved,
}

impl fmt::Display for NonPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private network",
            Self::SharedAddressSpace => "carrier-grade NAT",
            Self::LinkLocal => "link-local",
            Self::CloudMetadata => "cloud metadata service",
            Self::UniqueLocal => "unique local",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Documentation => "documentation range",
            Self::Benchmarking => "benchmarking range",
            Self::Reserved => "reserved range",
        })
    }
}

/// IPv4 ranges that are not public, most specific first: (network, prefix length, why).
const V4_RANGES: &[(Ipv4Addr, u32, NonPublic)] = &[
    (Ipv4Addr::new(169, 254, 169, 254), 32, NonPublic::CloudMetadata),
    (Ipv4Addr::new(169, 254, 170, 2), 32, NonPublic::CloudMetadata),
    (Ipv4Addr::new(255, 255, 255, 255), 32, NonPublic::Broadcast),
    (Ipv4Addr::new(0, 0, 0, 0), 8, NonPublic::Unspecified),
    (Ipv4Addr::new(10, 0, 0, 0), 8, NonPublic::Private),
    (Ipv4Addr::new(100, 64, 0, 0), 10, NonPublic::SharedAddressSpace),
    (Ipv4Addr::new(127, 0, 0, 0), 8, NonPublic::Loopback),
    (Ipv4Addr::new(169, 254, 0, 0), 16, NonPublic::LinkLocal),
    (Ipv4Addr::new(172, 16, 0, 0), 12, NonPublic::Private),
    (Ipv4Addr::new(192, 0, 0, 0), 24, NonPublic::Reserved),
    (Ipv4Addr::new(192, 0, 2, 0), 24, NonPublic::Documentation),
    (Ipv4Addr::new(192, 168, 0, 0), 16, NonPublic::Private),
    (Ipv4Addr::new(198, 18, 0, 0), 15, NonPublic::Benchmarking),
    (Ipv4Addr::new(198, 51, 100, 0), 24, NonPublic::Documentation),
    (Ipv4Addr::new(203, 0, 113, 0), 24, NonPublic::Documentation),
    (Ipv4Addr::new(224, 0, 0, 0), 4, NonPublic::Multicast),
    (Ipv4Addr::new(240, 0, 0, 0), 4, NonPublic::Reserved),
];

/// IPv6 ranges that are not public, most specific first. The forms that carry an IPv4 address
/// are handled in [`classify_v6`] before this table.
const V6_RANGES: &[(Ipv6Addr, u32, NonPublic)] = &[
    (Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254), 128, NonPublic::CloudMetadata),
    (Ipv6Addr::UNSPECIFIED, 128, NonPublic::Unspecified),
    (Ipv6Addr::LOCALHOST, 128, NonPublic::Loopback),
    (Ipv6Addr::new(0x0064, 0xff9b, 1, 0, 0, 0, 0, 0), 48, NonPublic::Reserved),
    (Ipv6Addr::new(0x0100, 0, 0, 0, 0, 0, 0, 0), 64, NonPublic::Reserved),
    (Ipv6Addr::new(0x2001, 0x0db8, 0, 0, 0, 0, 0, 0), 32, NonPublic::Documentation),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23, NonPublic::Reserved),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20, NonPublic::Documentation),
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, NonPublic::UniqueLocal),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, NonPublic::LinkLocal),
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, NonPublic::Private),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, NonPublic::Multicast),
];

/// `None` for a public address; otherwise why it is not one. IPv6 forms that embed an IPv4
/// address (mapped `::ffff:a.b.c.d`, translated `::ffff:0:a.b.c.d`, compatible `::a.b.c.d`,
/// NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:AABB:CCDD::`) are judged by that IPv4 address.
pub fn classify(ip: IpAddr) -> Option<NonPublic> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<NonPublic> {
    let bits = u32::from(ip);
    V4_RANGES.iter().find(|(net, len, _)| same_prefix32(bits, u32::from(*net), *len)).map(|(_, _, why)| *why)
}

fn classify_v6(ip: Ipv6Addr) -> Option<NonPublic> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    let prefix96 = bits >> 32;
    // ::ffff:a.b.c.d (mapped) and ::ffff:0:a.b.c.d (SIIT translated).
    if prefix96 == 0xffff || prefix96 == 0xffff_0000 {
        return classify_v4(low32);
    }
    // ::a.b.c.d (IPv4-compatible, deprecated); :: and ::1 are in the table.
    if prefix96 == 0 && bits > 1 {
        return Some(classify_v4(low32).unwrap_or(NonPublic::Reserved));
    }
    // 64:ff9b::a.b.c.d: the well-known NAT64 prefix (an IPv6-only network's way to public IPv4).
    if prefix96 == 0x0064_ff9b_0000_0000_0000_0000 {
        return classify_v4(low32);
    }
    // 2002:AABB:CCDD::/48: 6to4, the IPv4 address in bits 16..48.
    if bits >> 112 == 0x2002
        && let Some(why) = classify_v4(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32))
    {
        return Some(why);
    }
    V6_RANGES.iter().find(|(net, len, _)| same_prefix128(bits, u128::from(*net), *len)).map(|(_, _, why)| *why)
}

fn same_prefix32(a: u32, b: u32, len: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    a & mask == b & mask
}

fn same_prefix128(a: u128, b: u128, len: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    a & mask == b & mask
}

// ---------------------------------------------------------------------------------------------
// Refusals

/// A connection the guard did not make.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// A host name whose every address is private.
    #[error("{host} resolves to a private address ({addr}, {why}); refused ({ALLOW_PRIVATE_ENV}=1 allows it)")]
    Resolves { host: String, addr: IpAddr, why: NonPublic },
    /// A URL whose host is a private IP address.
    #[error("{addr} is a private address ({why}); refused ({ALLOW_PRIVATE_ENV}=1 allows it)")]
    Literal { addr: IpAddr, why: NonPublic },
}

/// The redirect policy's own limit.
#[derive(Debug, thiserror::Error)]
#[error("more than {MAX_REDIRECTS} redirects")]
struct TooManyRedirects;

/// The IP address a URL's host is, if it is one: `[::1]` without its brackets. The `url` crate
/// has already turned `2130706433`, `0x7f.1` and friends into `127.0.0.1`.
fn literal_ip(url: &Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    bare.parse().ok()
}

/// Refuses a URL whose host is a non-public IP address under `policy`. Host names pass: the
/// resolver judges what they resolve to when the connection is made.
pub fn check_url(url: &Url, policy: NetworkPolicy) -> Result<(), Refused> {
    if policy == NetworkPolicy::AllowPrivate {
        return Ok(());
    }
    match literal_ip(url) {
        Some(addr) => match classify(addr) {
            Some(why) => Err(Refused::Literal { addr, why }),
            None => Ok(()),
        },
        None => Ok(()),
    }
}

/// The guard's refusal somewhere in an error's chain of sources (the resolver's error arrives
/// wrapped by hyper and reqwest; the redirect policy's by reqwest).
fn refusal_in(e: &(dyn std::error::Error + 'static)) -> Option<Refused> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<Refused>() {
            return Some(r.clone());
        }
        cur = err.source();
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The resolver

/// The system resolver (`getaddrinfo`, on tokio's blocking pool), as reqwest uses by default.
#[derive(Debug, Default)]
struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Wraps a resolver and keeps only the public addresses of its answer; fails with
/// [`Refused::Resolves`] when it had only non-public ones. The client connects to what this
/// returns and nothing else, so the check and the connection see the same addresses.
pub struct GuardedResolver {
    inner: Arc<dyn Resolve>,
}

impl GuardedResolver {
    fn new(inner: Arc<dyn Resolve>) -> Self {
        Self { inner }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let answer = self.inner.resolve(name);
        Box::pin(async move {
            let mut first_refused = None;
            let public: Vec<SocketAddr> = answer
                .await?
                .filter(|a| match classify(a.ip()) {
                    None => true,
                    Some(why) => {
                        first_refused.get_or_insert((a.ip(), why));
                        false
                    }
                })
                .collect();
            if let (true, Some((addr, why))) = (public.is_empty(), first_refused) {
                tracing::info!(%host, %addr, %why, "refused to connect: the host resolves to a private address");
                return Err(Box::new(Refused::Resolves { host, addr, why }) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The client

/// Why a request was not answered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// The guard refused the address (first hop, a redirect, or a name's resolution).
    #[error(transparent)]
    Refused(Refused),
    #[error(transparent)]
    Http(reqwest::Error),
}

/// The HTTP client of a network adapter, built once: rustls, the given timeouts, Herald's user
/// agent, at most [`MAX_REDIRECTS`] redirects, and under [`NetworkPolicy::PublicOnly`] the
/// guard. Send through [`HttpClient::execute`] (the adapters' `send` and `fetch_media` do),
/// never with `RequestBuilder::send`, which would skip the check of an IP-literal first hop.
#[derive(Clone)]
pub(crate) struct HttpClient {
    client: Client,
    policy: NetworkPolicy,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl HttpClient {
    pub(crate) fn new(connect: Duration, total: Duration, policy: NetworkPolicy) -> Result<Self, reqwest::Error> {
        Self::with_resolver(connect, total, policy, Arc::new(SystemResolver))
    }

    /// The same client over another resolver (the tests' fake DNS). The guard wraps it.
    fn with_resolver(
        connect: Duration,
        total: Duration,
        policy: NetworkPolicy,
        resolver: Arc<dyn Resolve>,
    ) -> Result<Self, reqwest::Error> {
        let builder = Client::builder().connect_timeout(connect).timeout(total).user_agent(concat!(
            "Herald/",
            env!("CARGO_PKG_VERSION"),
            " (social media scheduling)"
        ));
        Ok(Self { client: guarded(builder, policy, resolver).build()?, policy })
    }

    pub(crate) fn get(&self, url: impl IntoUrl) -> RequestBuilder {
        self.client.get(url)
    }

    pub(crate) fn post(&self, url: impl IntoUrl) -> RequestBuilder {
        self.client.post(url)
    }

    /// Sends a request made from this client: its URL checked first (an IP-literal host never
    /// reaches the resolver), then every hop by the redirect policy and the resolver.
    pub(crate) async fn execute(&self, request: RequestBuilder) -> Result<Response, SendError> {
        let (client, request) = request.build_split();
        let request = request.map_err(SendError::Http)?;
        check_url(request.url(), self.policy).map_err(SendError::Refused)?;
        client.execute(request).await.map_err(|e| match refusal_in(&e) {
            Some(r) => SendError::Refused(r),
            None => SendError::Http(e),
        })
    }
}

/// `builder` with the guard of `policy`: the guarded resolver over `resolver`, the redirect
/// policy checking each hop, no system proxy. [`NetworkPolicy::AllowPrivate`] keeps reqwest's
/// own resolver, proxies and a plain redirect limit.
fn guarded(builder: ClientBuilder, policy: NetworkPolicy, resolver: Arc<dyn Resolve>) -> ClientBuilder {
    match policy {
        NetworkPolicy::AllowPrivate => builder.redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS)),
        NetworkPolicy::PublicOnly => builder
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver::new(resolver)))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                // `previous` holds the first URL too: more than MAX_REDIRECTS is one hop too many.
                if attempt.previous().len() > MAX_REDIRECTS {
                    return attempt.error(TooManyRedirects);
                }
                match check_url(attempt.url(), policy) {
                    Ok(()) => attempt.follow(),
                    Err(refused) => attempt.error(refused),
                }
            })),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn v4(s: &str) -> Option<NonPublic> {
        classify(s.parse::<Ipv4Addr>().unwrap().into())
    }

    fn v6(s: &str) -> Option<NonPublic> {
        classify(s.parse::<Ipv6Addr>().unwrap().into())
    }

    #[test]
    fn ipv4_addresses_that_are_not_public() {
        use NonPublic::*;
        for (ip, why) in [
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("10.0.0.1", Private),
            ("10.255.255.255", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("100.64.0.1", SharedAddressSpace),
            ("100.100.100.200", SharedAddressSpace),
            ("100.127.255.255", SharedAddressSpace),
            ("169.254.169.254", CloudMetadata),
            ("169.254.170.2", CloudMetadata),
            ("169.254.0.1", LinkLocal),
            ("169.254.169.253", LinkLocal),
            ("192.0.0.192", Reserved),
            ("192.0.2.10", Documentation),
            ("198.51.100.7", Documentation),
            ("203.0.113.99", Documentation),
            ("198.18.0.1", Benchmarking),
            ("198.19.255.255", Benchmarking),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("240.0.0.1", Reserved),
            ("255.255.255.255", Broadcast),
        ] {
            assert_eq!(v4(ip), Some(why), "{ip}");
        }
    }

    #[test]
    fn public_ipv4_addresses_pass_including_the_neighbours_of_private_ranges() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert_eq!(v4(ip), None, "{ip}");
        }
    }

    #[test]
    fn ipv6_addresses_that_are_not_public() {
        use NonPublic::*;
        for (ip, why) in [
            ("::", Unspecified),
            ("::1", Loopback),
            ("fe80::1", LinkLocal),
            ("febf:ffff::1", LinkLocal),
            ("fc00::1", UniqueLocal),
            ("fdff:ffff::1", UniqueLocal),
            ("fd00:ec2::254", CloudMetadata),
            ("fec0::1", Private),
            ("ff02::1", Multicast),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
            ("2001::1", Reserved),
            ("100::1", Reserved),
            ("64:ff9b:1::a", Reserved),
        ] {
            assert_eq!(v6(ip), Some(why), "{ip}");
        }
    }

    #[test]
    fn ipv6_forms_of_ipv4_addresses_are_judged_by_the_ipv4_address() {
        use NonPublic::*;
        for (ip, why) in [
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:7f00:1", Some(Loopback)),
            ("::ffff:169.254.169.254", Some(CloudMetadata)),
            ("::ffff:a9fe:a9fe", Some(CloudMetadata)),
            ("::ffff:10.1.2.3", Some(Private)),
            ("::ffff:0.0.0.0", Some(Unspecified)),
            ("::ffff:0:192.168.0.1", Some(Private)),
            ("::127.0.0.1", Some(Loopback)),
            ("::169.254.169.254", Some(CloudMetadata)),
            ("::8.8.8.8", Some(Reserved)),
            ("64:ff9b::127.0.0.1", Some(Loopback)),
            ("64:ff9b::a9fe:a9fe", Some(CloudMetadata)),
            ("2002:7f00:1::", Some(Loopback)),
            ("2002:a9fe:a9fe::1", Some(CloudMetadata)),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::8.8.8.8", None),
            ("2002:808:808::1", None),
        ] {
            assert_eq!(v6(ip), why, "{ip}");
        }
    }

    #[test]
    fn public_ipv6_addresses_pass() {
        for ip in ["2606:4700:4700::1111", "2a00:1450:4007:80e::200e", "2001:4860:4860::8888", "2400:cb00::1"] {
            assert_eq!(v6(ip), None, "{ip}");
        }
    }

    #[test]
    fn the_switch_reads_one_or_zero_and_refuses_to_guess() {
        assert_eq!(NetworkPolicy::default(), NetworkPolicy::PublicOnly);
        for v in [None, Some(""), Some("0"), Some("false"), Some(" 0 ")] {
            assert_eq!(NetworkPolicy::from_switch(v), Ok(NetworkPolicy::PublicOnly), "{v:?}");
        }
        for v in [Some("1"), Some("true"), Some("TRUE")] {
            assert_eq!(NetworkPolicy::from_switch(v), Ok(NetworkPolicy::AllowPrivate), "{v:?}");
        }
        let err = NetworkPolicy::from_switch(Some("yes please")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "HERALD_ALLOW_PRIVATE_NETWORK must be 1 (allow private addresses) or 0 (refuse them), not `yes please`"
        );
    }

    #[test]
    fn ip_literal_urls_are_parsed_not_matched_as_text() {
        let refused = |u: &str| check_url(&Url::parse(u).unwrap(), NetworkPolicy::PublicOnly).err();
        let lit = |ip: &str, why| Some(Refused::Literal { addr: ip.parse().unwrap(), why });
        assert_eq!(refused("http://127.0.0.1:8080/x"), lit("127.0.0.1", NonPublic::Loopback));
        assert_eq!(refused("http://2130706433/"), lit("127.0.0.1", NonPublic::Loopback));
        assert_eq!(refused("http://0x7f.1/"), lit("127.0.0.1", NonPublic::Loopback));
        assert_eq!(refused("http://0/"), lit("0.0.0.0", NonPublic::Unspecified));
        assert_eq!(refused("http://[::1]/"), lit("::1", NonPublic::Loopback));
        assert_eq!(
            refused("http://[::ffff:169.254.169.254]/latest/"),
            lit("::ffff:a9fe:a9fe", NonPublic::CloudMetadata)
        );
        assert_eq!(
            refused("https://169.254.169.254/latest/meta-data/"),
            lit("169.254.169.254", NonPublic::CloudMetadata)
        );
        assert_eq!(refused("http://[fd00:ec2::254]/"), lit("fd00:ec2::254", NonPublic::CloudMetadata));
        // Names are the resolver's to judge; public literals pass.
        assert_eq!(refused("https://127.0.0.1.example.com/"), None);
        assert_eq!(refused("https://localhost/"), None);
        assert_eq!(refused("https://8.8.8.8/"), None);
        assert_eq!(refused("https://[2606:4700:4700::1111]/"), None);
        assert_eq!(check_url(&Url::parse("http://127.0.0.1/").unwrap(), NetworkPolicy::AllowPrivate), Ok(()));
        assert_eq!(
            refused("http://[::1]:9/").unwrap().to_string(),
            "::1 is a private address (loopback); refused (HERALD_ALLOW_PRIVATE_NETWORK=1 allows it)"
        );
    }

    // -----------------------------------------------------------------------------------------
    // Against real sockets: a listener on loopback that counts the connections it accepts.

    /// A fake DNS: names to addresses.
    struct FakeDns(HashMap<&'static str, Vec<IpAddr>>);

    impl FakeDns {
        fn new(entries: &[(&'static str, &[&str])]) -> Arc<Self> {
            Arc::new(Self(
                entries.iter().map(|(name, ips)| (*name, ips.iter().map(|ip| ip.parse().unwrap()).collect())).collect(),
            ))
        }
    }

    impl Resolve for FakeDns {
        fn resolve(&self, name: Name) -> Resolving {
            let found = self.0.get(name.as_str()).cloned();
            let host = name.as_str().to_owned();
            Box::pin(async move {
                let ips = found.ok_or_else(|| format!("fake DNS: no such name {host}"))?;
                Ok(Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect::<Vec<_>>().into_iter()) as Addrs)
            })
        }
    }

    /// A TCP listener on 127.0.0.1 answering every request with `answer` (a whole HTTP/1.1
    /// response), counting the connections it accepted.
    async fn listener(answer: impl Fn(u16) -> String + Send + Sync + 'static) -> (u16, Arc<AtomicUsize>) {
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = socket.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = socket.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let reply = answer(port);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let _ = conn.write_all(reply.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        (port, accepted)
    }

    fn ok_reply(_: u16) -> String {
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok".to_owned()
    }

    fn redirect_to(location: String) -> impl Fn(u16) -> String + Send + Sync + 'static {
        move |_| format!("HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
    }

    fn client(policy: NetworkPolicy, dns: Arc<FakeDns>) -> HttpClient {
        HttpClient::with_resolver(Duration::from_secs(2), Duration::from_secs(5), policy, dns).unwrap()
    }

    async fn get(http: &HttpClient, url: &str) -> Result<Response, SendError> {
        http.execute(http.get(url)).await
    }

    fn refused(r: Result<Response, SendError>) -> Refused {
        match r {
            Err(SendError::Refused(r)) => r,
            Err(SendError::Http(e)) => panic!("expected the guard's refusal, got an HTTP error: {e:?}"),
            Ok(resp) => panic!("expected the guard's refusal, got HTTP {}", resp.status()),
        }
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_or_metadata_is_refused_and_nothing_is_connected() {
        let (port, accepted) = listener(ok_reply).await;
        let dns = FakeDns::new(&[
            ("evil.example", &["127.0.0.1"]),
            ("metadata.evil.example", &["169.254.169.254"]),
            ("mapped.evil.example", &["::ffff:127.0.0.1"]),
            ("mixed.evil.example", &["10.0.0.7", "127.0.0.1", "fd00:ec2::254"]),
        ]);
        let http = client(NetworkPolicy::PublicOnly, dns.clone());

        let r = refused(get(&http, &format!("http://evil.example:{port}/x")).await);
        assert_eq!(
            r,
            Refused::Resolves {
                host: "evil.example".into(),
                addr: "127.0.0.1".parse().unwrap(),
                why: NonPublic::Loopback
            }
        );
        assert_eq!(
            r.to_string(),
            "evil.example resolves to a private address (127.0.0.1, loopback); refused (HERALD_ALLOW_PRIVATE_NETWORK=1 allows it)"
        );
        let r = refused(get(&http, &format!("http://metadata.evil.example:{port}/latest/meta-data/")).await);
        assert!(matches!(r, Refused::Resolves { why: NonPublic::CloudMetadata, .. }), "{r}");
        let r = refused(get(&http, &format!("http://mapped.evil.example:{port}/x")).await);
        assert!(matches!(r, Refused::Resolves { why: NonPublic::Loopback, .. }), "{r}");
        let r = refused(get(&http, &format!("http://mixed.evil.example:{port}/x")).await);
        assert!(matches!(r, Refused::Resolves { why: NonPublic::Private, .. }), "{r}");
        assert_eq!(accepted.load(Ordering::SeqCst), 0, "the guard connected to the listener");

        // The control: the same client without the guard does reach the listener.
        let open = client(NetworkPolicy::AllowPrivate, dns);
        let resp = open.execute(open.get(format!("http://127.0.0.1:{port}/x"))).await.expect("allowed");
        assert_eq!(resp.status(), 200);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_guarded_resolver_keeps_only_the_public_addresses_of_an_answer() {
        let dns = FakeDns::new(&[("half.example", &["127.0.0.1", "93.184.216.34", "fe80::1", "2606:4700::1"])]);
        let guard = GuardedResolver::new(dns);
        let kept: Vec<IpAddr> = guard.resolve("half.example".parse().unwrap()).await.unwrap().map(|a| a.ip()).collect();
        assert_eq!(kept, vec!["93.184.216.34".parse::<IpAddr>().unwrap(), "2606:4700::1".parse().unwrap()]);
    }

    #[tokio::test]
    async fn a_name_the_system_resolves_to_loopback_is_refused() {
        let (port, accepted) = listener(ok_reply).await;
        let http = HttpClient::new(Duration::from_secs(2), Duration::from_secs(5), NetworkPolicy::PublicOnly).unwrap();
        let r = refused(get(&http, &format!("http://localhost:{port}/x")).await);
        assert!(matches!(&r, Refused::Resolves { host, why: NonPublic::Loopback, .. } if host == "localhost"), "{r}");
        assert_eq!(accepted.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn an_ip_literal_url_is_refused_before_connecting() {
        let (port, accepted) = listener(ok_reply).await;
        let http = client(NetworkPolicy::PublicOnly, FakeDns::new(&[]));
        for url in [
            format!("http://127.0.0.1:{port}/x"),
            format!("http://[::ffff:127.0.0.1]:{port}/x"),
            format!("http://2130706433:{port}/x"),
            format!("http://0.0.0.0:{port}/x"),
        ] {
            let r = refused(get(&http, &url).await);
            assert!(matches!(r, Refused::Literal { .. }), "{url}: {r}");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 0, "the guard connected to the listener");
    }

    /// The first hop goes out unchecked (straight through reqwest, skipping `execute`'s check,
    /// which is what lets a loopback listener play the public first server); its redirect
    /// goes through the guarded client's redirect policy and resolver, as in production.
    /// (Were the guard broken, the first case would really ask 169.254.169.254; the others stay
    /// on loopback, where the target listener counts what reaches it.)
    #[tokio::test]
    async fn a_redirect_to_a_private_address_is_refused_and_its_target_never_connected() {
        let (target, target_accepted) = listener(ok_reply).await;
        let dns = FakeDns::new(&[("internal.evil.example", &["127.0.0.1"])]);
        let http = client(NetworkPolicy::PublicOnly, dns);
        for (location, expect) in [
            ("http://169.254.169.254/latest/meta-data/".to_owned(), NonPublic::CloudMetadata),
            (format!("http://127.0.0.1:{target}/latest/meta-data/"), NonPublic::Loopback),
            (format!("http://[::ffff:127.0.0.1]:{target}/"), NonPublic::Loopback),
            (format!("http://internal.evil.example:{target}/"), NonPublic::Loopback),
        ] {
            let (first, first_accepted) = listener(redirect_to(location.clone())).await;
            let err = http.client.get(format!("http://127.0.0.1:{first}/img.png")).send().await.expect_err(&location);
            assert!(err.is_redirect() || err.is_connect(), "{location}: {err:?}");
            let r = refusal_in(&err).unwrap_or_else(|| panic!("{location}: not the guard's refusal: {err:?}"));
            let why = match r {
                Refused::Literal { why, .. } | Refused::Resolves { why, .. } => why,
            };
            assert_eq!(why, expect, "{location}");
            assert_eq!(first_accepted.load(Ordering::SeqCst), 1, "{location}: the first hop was made");
        }
        assert_eq!(target_accepted.load(Ordering::SeqCst), 0, "a redirect target was connected to");
    }

    #[tokio::test]
    async fn with_the_switch_on_loopback_and_its_redirects_are_followed() {
        let (target, target_accepted) = listener(ok_reply).await;
        let (first, _) = listener(redirect_to(format!("http://127.0.0.1:{target}/here"))).await;
        let http = client(NetworkPolicy::AllowPrivate, FakeDns::new(&[]));
        let resp = get(&http, &format!("http://127.0.0.1:{first}/")).await.expect("allowed");
        assert_eq!(resp.status(), 200);
        assert_eq!(target_accepted.load(Ordering::SeqCst), 1);
    }
}
