//! Leader election with a `coordination.k8s.io/v1` Lease, as client-go does it: the holder
//! renews `renewTime` well inside `leaseDurationSeconds`; anyone may take a lease whose holder
//! stopped renewing; every write carries the `resourceVersion` it read, so two candidates can
//! never both win (the loser gets 409 Conflict). [`step`] is the pure decision.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Api;
use kube::api::PostParams;

/// What a candidate should do with the lease it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nobody holds it, or the holder let it expire: take it.
    Acquire,
    /// We hold it: renew.
    Renew,
    /// Someone else holds it for this many more seconds.
    Wait(i64),
}

/// The decision for `me` at `now` (epoch seconds) given the lease's holder, last renewal and
/// duration.
pub fn step(holder: Option<&str>, renewed: Option<i64>, duration: i64, me: &str, now: i64) -> Step {
    match holder.filter(|h| !h.is_empty()) {
        None => Step::Acquire,
        Some(h) if h == me => Step::Renew,
        Some(_) => {
            let left = renewed.map_or(0, |r| r + duration - now);
            if left > 0 {
                Step::Wait(left)
            } else {
                Step::Acquire
            }
        }
    }
}

/// Errors talking to the API server about the lease.
#[derive(Debug, thiserror::Error)]
#[error("lease {name}: {source}")]
pub struct LeaseError {
    name: String,
    source: kube::Error,
}

/// One candidate for one lease.
pub struct Elector {
    api: Api<Lease>,
    name: String,
    me: String,
    duration: Duration,
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

impl Elector {
    /// A candidate `me` for `namespace/name`, holding it for `duration` per renewal.
    pub fn new(
        client: kube::Client,
        namespace: &str,
        name: &str,
        me: &str,
        duration: Duration,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
            me: me.to_string(),
            duration,
        }
    }

    /// How often to try: a third of the duration, as client-go's retry period.
    pub fn period(&self) -> Duration {
        (self.duration / 3).max(Duration::from_millis(200))
    }

    /// Acquires or renews; `Ok(true)` when we hold the lease afterwards.
    pub async fn try_lead(&self) -> Result<bool, LeaseError> {
        let err = |source| LeaseError {
            name: self.name.clone(),
            source,
        };
        let now = jiff::Timestamp::now();
        let secs = self.duration.as_secs().max(1) as i32;
        let Some(mut lease) = self.api.get_opt(&self.name).await.map_err(err)? else {
            let fresh = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.me.clone()),
                    lease_duration_seconds: Some(secs),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &fresh).await {
                Ok(_) => Ok(true),
                Err(e) if is_conflict(&e) => Ok(false),
                Err(e) => Err(err(e)),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let duration = spec
            .lease_duration_seconds
            .map_or(i64::from(secs), i64::from);
        let decision = step(
            spec.holder_identity.as_deref(),
            spec.renew_time.as_ref().map(|t| t.0.as_second()),
            duration,
            &self.me,
            now.as_second(),
        );
        let mut next = spec;
        match decision {
            Step::Wait(_) => return Ok(false),
            Step::Renew => {}
            Step::Acquire => {
                next.holder_identity = Some(self.me.clone());
                next.acquire_time = Some(MicroTime(now));
                next.lease_transitions = Some(next.lease_transitions.unwrap_or(0) + 1);
            }
        }
        next.lease_duration_seconds = Some(secs);
        next.renew_time = Some(MicroTime(now));
        lease.spec = Some(next);
        // `replace` sends the resourceVersion we read: a concurrent winner makes this a 409.
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(err(e)),
        }
    }

    /// Gives the lease up (on shutdown), so a successor need not wait for it to expire.
    pub async fn release(&self) -> Result<(), LeaseError> {
        let err = |source| LeaseError {
            name: self.name.clone(),
            source,
        };
        let Some(mut lease) = self.api.get_opt(&self.name).await.map_err(err)? else {
            return Ok(());
        };
        let mut spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.me.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        lease.spec = Some(spec);
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_conflict(&e) => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    /// How long the leader keeps acting without a successful renewal: two thirds of the
    /// lease's duration, as client-go's renew deadline is shorter than the lease, so it stops
    /// before anyone else may take the lease over.
    pub fn renew_deadline(&self) -> Duration {
        self.duration * 2 / 3
    }

    /// Runs `work` while we lead: waits for the lease, starts `work`, renews, and stops `work`
    /// once renewals have failed (or hung) up to the renew deadline, before the lease can
    /// expire and someone else lead. Returns when `work` ends.
    pub async fn lead<F>(&self, work: F) -> Result<(), LeaseError>
    where
        F: std::future::Future<Output = ()>,
    {
        loop {
            match self.try_lead().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "lease: acquire failed"),
            }
            tokio::time::sleep(self.period()).await;
        }
        tracing::info!(lease = %self.name, holder = %self.me, "leading");
        tokio::pin!(work);
        let mut last_ok = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = &mut work => return Ok(()),
                () = tokio::time::sleep(self.period()) => {
                    // A renewal may take only what is left before the renew deadline: a hung
                    // API call must not keep a leader acting past its lease.
                    let left = self.renew_deadline().saturating_sub(last_ok.elapsed());
                    match tokio::time::timeout(left, self.try_lead()).await {
                        Ok(Ok(true)) => last_ok = tokio::time::Instant::now(),
                        Ok(Ok(false)) => {
                            tracing::warn!(lease = %self.name, "lost the lease: stopping");
                            return Ok(());
                        }
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "lease: renewal failed");
                            if last_ok.elapsed() >= self.renew_deadline() {
                                tracing::warn!(lease = %self.name, "renew deadline passed: stopping");
                                return Ok(());
                            }
                        }
                        Err(_) => {
                            tracing::warn!(lease = %self.name, "renewal hung past the renew deadline: stopping");
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_leader_stops_before_its_lease_can_expire() {
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = kube::Client::try_from(config).unwrap();
        let e = Elector::new(client, "ai", "lease", "me", Duration::from_secs(15));
        // Renewals every 5 s; one may fail, the second failure (10 s) is the deadline, 5 s
        // before the 15 s lease could be taken over.
        assert_eq!(e.period(), Duration::from_secs(5));
        assert_eq!(e.renew_deadline(), Duration::from_secs(10));
    }

    #[test]
    fn a_live_lease_is_respected_and_an_expired_one_taken() {
        assert_eq!(step(None, None, 15, "a", 100), Step::Acquire);
        assert_eq!(step(Some(""), Some(99), 15, "a", 100), Step::Acquire);
        assert_eq!(step(Some("a"), Some(90), 15, "a", 100), Step::Renew);
        assert_eq!(step(Some("b"), Some(90), 15, "a", 100), Step::Wait(5));
        assert_eq!(step(Some("b"), Some(80), 15, "a", 100), Step::Acquire);
        assert_eq!(step(Some("b"), None, 15, "a", 100), Step::Acquire);
    }
}
