"""The production shape on loopback (`make stack`): nginx, two portal instances, PostgreSQL,
Redis and Prometheus; `render` turns the ops/ files into loopback copies, `runner` starts
and stops the processes by pid (a state file)."""
