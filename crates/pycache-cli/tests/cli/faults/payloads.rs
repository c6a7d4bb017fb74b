//! A pyc whose header says fresh but whose payload is cut short fails the gate.

use super::write;
use crate::compile::{files_ending, pythons};
use crate::pycache;
use serde_json::Value;

#[test]
fn check_reports_truncated_payloads_and_compile_verify_rewrites_them() {
    for python in pythons() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path();
        write(
            &tree.join("a.py"),
            "def f(x):\n    return [x * i for i in range(10)]\n",
        );
        write(&tree.join("b.py"), "B = {'k': (1, 2.5, 'text' * 3)}\n");
        write(&tree.join("c.py"), "c = 1\n");
        pycache()
            .args(["compile", "-q", "--python"])
            .arg(&python.path)
            .arg(tree)
            .assert()
            .success();
        let header = if python.at_least(3, 7) { 16 } else { 12 };
        let pyc = |name: &str| tree.join(format!("__pycache__/{name}.{}.pyc", python.tag));
        let a = std::fs::read(pyc("a")).unwrap();
        std::fs::write(pyc("a"), &a[..header + (a.len() - header) / 2]).unwrap();
        std::fs::write(pyc("b"), &std::fs::read(pyc("b")).unwrap()[..header]).unwrap();
        let output = pycache()
            .args(["check", "--json", "--python"])
            .arg(&python.path)
            .arg(tree)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{}", python.name);
        let json: Value = serde_json::from_slice(&output.stdout).unwrap();
        let mut corrupt: Vec<&str> = json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["reason"] == "corrupt")
            .map(|f| f["source"].as_str().unwrap().rsplit('/').next().unwrap())
            .collect();
        corrupt.sort_unstable();
        assert_eq!(corrupt, ["a.py", "b.py"], "{}: {json}", python.name);
        // compile trusts headers unless asked to verify.
        let output = pycache()
            .args(["compile", "--verify", "--python"])
            .arg(&python.path)
            .arg(tree)
            .output()
            .unwrap();
        crate::assert_success(&output);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("2 compiled, 1 fresh"),
            "{}: {stdout}",
            python.name
        );
        assert_eq!(files_ending(tree, ".pyc").len(), 3);
        let output = pycache()
            .args(["check", "--python"])
            .arg(&python.path)
            .arg(tree)
            .output()
            .unwrap();
        crate::assert_success(&output);
    }
}
