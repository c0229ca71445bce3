//! Fidelity of the emulators against real clients and the vendor specs, in one test binary
//! (one link instead of five keeps the build's disk use and link time down).

mod github_api;
mod konnect_api;
mod kube_client;
mod kubectl;
mod seeds_agree;
