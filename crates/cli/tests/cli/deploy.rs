//! What deploy/ runs with: each container's environment in the compose file and in both
//! kustomizations, checked by `miyagi config check` as the pod would check it at start. A
//! manifest that names a setting wrongly, or leaves out one its mode needs, fails here instead
//! of in a cluster.

use super::common::miyagi;

/// A representative value for each key of the `miyagi-secrets` secret the manifests read.
fn secret_placeholder(key: &str) -> &'static str {
    match key {
        "database-url" => "postgres://miyagi@db.example.internal:5432/miyagi",
        "redis-url" => "rediss://:key@cache.example.internal:6380/",
        "jwks-url" => "https://login.example.internal/keys",
        "jwt-issuer" => "https://login.example.internal/",
        "jwt-audience" => "miyagi-api",
        "blob-account-key" => "a2V5",
        "kafka-brokers" => "kafka-0.kafka.internal:9092",
        "event-hubs-connection-string" => {
            "Endpoint=sb://miyagi.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=a2V5"
        }
        other => panic!("the manifests read secret key {other:?}: give it a placeholder here"),
    }
}

/// The environment a Kubernetes container entry sets: plain values, required secrets, the
/// optional secrets a cluster of this kind holds (`present`), the pod's name.
fn k8s_env(entries: &serde_yaml_ng::Value, present: &[&str]) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for entry in entries.as_sequence().into_iter().flatten() {
        let name = entry["name"].as_str().unwrap().to_string();
        if let Some(value) = entry["value"].as_str() {
            env.push((name, value.to_string()));
        } else if let Some(secret) = entry["valueFrom"].get("secretKeyRef") {
            let key = secret["key"].as_str().unwrap();
            if secret["optional"].as_bool() != Some(true) || present.contains(&key) {
                env.push((name, secret_placeholder(key).into()));
            }
        } else if entry["valueFrom"].get("fieldRef").is_some() {
            env.push((name, "miyagi-0".into()));
        }
    }
    env
}

fn yaml(path: &str) -> Vec<serde_yaml_ng::Value> {
    let text =
        std::fs::read_to_string(format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| {
            let mut value: serde_yaml_ng::Value = serde::Deserialize::deserialize(doc).unwrap();
            value.apply_merge().unwrap();
            value
        })
        .collect()
}

/// Every container of deploy/: (where, its MIYAGI_* environment).
fn deployments() -> Vec<(String, Vec<(String, String)>)> {
    let mut all = Vec::new();
    let compose = &yaml("deploy/compose.yaml")[0];
    for (name, service) in compose["services"].as_mapping().unwrap() {
        let Some(environment) = service.get("environment").and_then(|e| e.as_mapping()) else {
            continue;
        };
        let env: Vec<(String, String)> = environment
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?, v)))
            .filter(|(k, _)| k.starts_with("MIYAGI_"))
            .map(|(k, v)| (k.to_string(), v.as_str().unwrap().to_string()))
            .collect();
        if !env.is_empty() {
            all.push((format!("compose {}", name.as_str().unwrap()), env));
        }
    }
    let base_config: Vec<(String, String)> = yaml("deploy/k8s/base/configmap.yaml")[0]["data"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().unwrap().to_string(),
                v.as_str().unwrap().to_string(),
            )
        })
        .collect();
    let azure = &yaml("deploy/k8s/overlays/azure/kustomization.yaml")[0];
    let azure_literals: Vec<(String, String)> = azure["configMapGenerator"][0]["literals"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|l| {
            let (k, v) = l.as_str().unwrap().split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    let azure_patch: Vec<serde_yaml_ng::Value> =
        serde_yaml_ng::from_str(azure["patches"][0]["patch"].as_str().unwrap()).unwrap();
    let azure_env = k8s_env(
        &serde_yaml_ng::Value::Sequence(azure_patch.iter().map(|op| op["value"].clone()).collect()),
        &[],
    );
    for manifest in ["users", "advisor"] {
        let deployment = &yaml(&format!("deploy/k8s/base/{manifest}.yaml"))[0];
        let env = &deployment["spec"]["template"]["spec"]["containers"][0]["env"];
        // A plain cluster names its brokers; Azure's holds the Event Hubs connection string.
        let base = base_config
            .iter()
            .cloned()
            .chain(k8s_env(env, &["kafka-brokers"]))
            .collect();
        let on_azure = base_config
            .iter()
            .cloned()
            .chain(k8s_env(env, &["event-hubs-connection-string"]))
            .chain(azure_literals.iter().cloned())
            .chain(azure_env.iter().cloned())
            .collect();
        all.push((format!("k8s base {manifest}"), base));
        all.push((format!("k8s azure {manifest}"), on_azure));
    }
    all
}

#[test]
fn every_deploy_configuration_passes_config_check() {
    let deployments = deployments();
    assert!(
        deployments.len() >= 6,
        "compose and both kustomizations are read"
    );
    for (name, env) in deployments {
        let checked = miyagi()
            .args(["config", "check"])
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap();
        assert!(
            checked.status.success(),
            "{name} would refuse to start: {}",
            String::from_utf8_lossy(&checked.stderr)
        );
    }
}
