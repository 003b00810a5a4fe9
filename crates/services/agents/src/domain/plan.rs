//! A plan is checked whole before its first step runs: every tool known, every argument one the
//! tool takes, every reference to an earlier step's output pointing backwards. A plan that fails
//! runs nothing.
//!
//! A reference stands for a whole argument, `{"$output": 0}` or `{"$output": 0, "field":
//! "orders"}`; it is replaced by the output when its step comes to run, and the arguments are
//! then checked again in full.

use serde_json::{Map, Value};

use super::tools::ToolName;
use crate::model::PlanStep;

const REFERENCE: &str = "$output";

/// One fault of a plan, with where it is (`plan[1].tool`).
#[derive(Debug, Clone, PartialEq)]
pub struct PlanFault {
    pub field: String,
    pub message: String,
}

pub fn check(steps: &[PlanStep]) -> Vec<PlanFault> {
    let mut faults = Vec::new();
    for (position, step) in steps.iter().enumerate() {
        let at = |what: &str| format!("plan[{position}].{what}");
        let Some(tool) = ToolName::parse(&step.tool) else {
            faults.push(PlanFault {
                field: at("tool"),
                message: format!(
                    "`{}` is not a tool; see /api/v1/agents/tools for those there are",
                    step.tool
                ),
            });
            continue;
        };
        let Some(arguments) = step.arguments.as_object() else {
            faults.push(PlanFault {
                field: at("arguments"),
                message: "must be an object".into(),
            });
            continue;
        };
        let mut given = Map::new();
        let mut referred = Vec::new();
        for (name, value) in arguments {
            match reference(value) {
                Some(Ok((source, _))) if source < position => referred.push(name.clone()),
                Some(Ok((source, _))) => faults.push(PlanFault {
                    field: at(&format!("arguments.{name}")),
                    message: format!(
                        "refers to step {source}'s output, which is not before this step"
                    ),
                }),
                Some(Err(message)) => faults.push(PlanFault {
                    field: at(&format!("arguments.{name}")),
                    message,
                }),
                None => {
                    given.insert(name.clone(), value.clone());
                }
            }
        }
        let schema = tool.parameters();
        for name in &referred {
            if schema["properties"].get(name).is_none() {
                faults.push(PlanFault {
                    field: at(&format!("arguments.{name}")),
                    message: format!("`{}` takes no argument `{name}`", tool.name()),
                });
            }
        }
        // What the earlier steps will provide is not missing.
        faults.extend(
            tool.check(&Value::Object(given))
                .into_iter()
                .filter(|fault| {
                    !referred
                        .iter()
                        .any(|name| fault.contains(&format!("\"{name}\" is a required property")))
                })
                .map(|message| PlanFault {
                    field: at("arguments"),
                    message,
                }),
        );
    }
    faults
}

/// The step and the field of its output a reference names; `None` when `value` is not one.
fn reference(value: &Value) -> Option<Result<(usize, Option<String>), String>> {
    let object = value.as_object()?;
    let source = object.get(REFERENCE)?;
    let Some(source) = source.as_u64() else {
        return Some(Err(format!("`{REFERENCE}` must be a step number")));
    };
    let field = match object.get("field") {
        None => None,
        Some(Value::String(field)) => Some(field.clone()),
        Some(_) => return Some(Err("`field` must be a string".into())),
    };
    if object.keys().any(|k| k != REFERENCE && k != "field") {
        return Some(Err(format!(
            "a reference holds only `{REFERENCE}` and `field`"
        )));
    }
    Some(Ok((source as usize, field)))
}

/// The arguments with every reference replaced by the output it names. `outputs` holds the
/// outputs of the steps before this one.
pub fn resolve(arguments: &Value, outputs: &[Option<Value>]) -> Result<Value, String> {
    let Some(object) = arguments.as_object() else {
        return Ok(arguments.clone());
    };
    let mut resolved = Map::new();
    for (name, value) in object {
        let value = match reference(value) {
            None => value.clone(),
            Some(Err(message)) => return Err(format!("{name}: {message}")),
            Some(Ok((source, field))) => {
                let output = outputs
                    .get(source)
                    .and_then(Option::as_ref)
                    .ok_or_else(|| format!("{name}: step {source} has no output"))?;
                match field {
                    None => output.clone(),
                    Some(field) => output.get(&field).cloned().ok_or_else(|| {
                        format!("{name}: step {source}'s output has no `{field}`")
                    })?,
                }
            }
        };
        resolved.insert(name.clone(), value);
    }
    Ok(Value::Object(resolved))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn step(tool: &str, arguments: Value) -> PlanStep {
        PlanStep {
            tool: tool.into(),
            purpose: String::new(),
            arguments,
        }
    }

    #[test]
    fn the_rebalancing_plan_with_its_references_passes() {
        let plan = [
            step("read-positions", json!({})),
            step(
                "propose-rebalance",
                json!({"positions": {"$output": 0, "field": "positions"}}),
            ),
            step(
                "place-orders",
                json!({"orders": {"$output": 1, "field": "orders"}}),
            ),
        ];
        assert_eq!(check(&plan), vec![]);
    }

    #[test]
    fn an_unknown_tool_is_named_by_its_place_in_the_plan() {
        let faults = check(&[
            step("read-positions", json!({})),
            step("wire-money", json!({})),
        ]);
        assert_eq!(faults.len(), 1);
        assert_eq!(faults[0].field, "plan[1].tool");
        assert!(faults[0].message.contains("`wire-money` is not a tool"));
    }

    #[test]
    fn a_reference_forwards_in_the_plan_is_refused() {
        let faults = check(&[step(
            "propose-rebalance",
            json!({"positions": {"$output": 0, "field": "positions"}}),
        )]);
        assert_eq!(faults[0].field, "plan[0].arguments.positions");
    }

    #[test]
    fn arguments_the_tool_does_not_take_are_refused() {
        let faults = check(&[step("read-positions", json!({"account": "margin"}))]);
        assert_eq!(faults[0].field, "plan[0].arguments");
    }

    #[test]
    fn a_reference_is_replaced_by_the_field_of_the_output_it_names() {
        let outputs = [Some(json!({"positions": [1, 2]}))];
        let resolved = resolve(
            &json!({"positions": {"$output": 0, "field": "positions"}, "band": 0.1}),
            &outputs,
        )
        .unwrap();
        assert_eq!(resolved, json!({"positions": [1, 2], "band": 0.1}));
    }
}
