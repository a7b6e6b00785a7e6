# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_sandbox_global_optspecs
    string join \n h/help V/version
end

function __fish_sandbox_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_sandbox_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_sandbox_using_subcommand
    set -l cmd (__fish_sandbox_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c sandbox -n "__fish_sandbox_needs_command" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_needs_command" -s V -l version -d 'Print version'
complete -c sandbox -n "__fish_sandbox_needs_command" -f -a "run" -d 'Run a challenge\'s playbook twice on every platform and verify it after each pass'
complete -c sandbox -n "__fish_sandbox_needs_command" -f -a "test" -d 'Prove challenges: each solution must pass on every platform and each starter must fail'
complete -c sandbox -n "__fish_sandbox_needs_command" -f -a "lint" -d 'Check challenges without Docker: manifest, files, check.sh, playbooks'
complete -c sandbox -n "__fish_sandbox_needs_command" -f -a "new" -d 'Scaffold a new challenge that passes `lint` and `test` as written'
complete -c sandbox -n "__fish_sandbox_needs_command" -f -a "shell" -d 'Run a challenge\'s playbook once, then open a shell in a target; removed on exit'
complete -c sandbox -n "__fish_sandbox_needs_command" -f -a "draft-goss" -d 'Apply the reference solution once, then write a goss file describing what it set up (the packages, services, users, groups and files its tasks name) for you to edit'
complete -c sandbox -n "__fish_sandbox_needs_command" -f -a "watch" -d 'Run the challenge again whenever one of its files changes, on warm targets; Ctrl-C removes everything'
complete -c sandbox -n "__fish_sandbox_needs_command" -f -a "pool" -d 'Keep warm targets between runs: up, status, down'
complete -c sandbox -n "__fish_sandbox_needs_command" -f -a "list" -d 'List the library\'s challenges with your progress: new, attempted, solved'
complete -c sandbox -n "__fish_sandbox_needs_command" -f -a "start" -d 'Copy a challenge into a workspace of your own (without its solution) and say what next'
complete -c sandbox -n "__fish_sandbox_needs_command" -f -a "show" -d 'Print a challenge\'s task'
complete -c sandbox -n "__fish_sandbox_needs_command" -f -a "hint" -d 'Print a challenge\'s next hint (one more each time)'
complete -c sandbox -n "__fish_sandbox_needs_command" -f -a "reset" -d 'Put a workspace\'s starter files back (your edits are discarded)'
complete -c sandbox -n "__fish_sandbox_needs_command" -f -a "doctor" -d 'Check that Docker, the runtime and the images are ready'
complete -c sandbox -n "__fish_sandbox_needs_command" -f -a "images" -d 'Build or list the prepared images'
complete -c sandbox -n "__fish_sandbox_needs_command" -f -a "completions" -d 'Print shell completions'
complete -c sandbox -n "__fish_sandbox_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sandbox -n "__fish_sandbox_using_subcommand run" -l playbook -d 'Apply this playbook instead of the starter (relative paths resolve in the challenge)' -r -F
complete -c sandbox -n "__fish_sandbox_using_subcommand run" -l runtime -d 'Container runtime (default: the config\'s, else runsc); anything but runsc weakens isolation and says so' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand run" -l services -d 'Override the challenge\'s services mode: mock, supervised or systemd' -r -f -a "mock\t'Records state, runs nothing: fast, and enough for most challenges'
supervised\t'A small service manager: unit files are read and their commands really run'
systemd\t'Real systemd as PID 1, where the runtime can do it'"
complete -c sandbox -n "__fish_sandbox_using_subcommand run" -l strategy -d 'Override the challenge\'s Ansible strategy (default mitogen: Mitogen\'s accelerated linear; linear: Ansible\'s own)' -r -f -a "mitogen\t'Mitogen\'s `mitogen_linear`: one Python interpreter per host for the whole play instead of a process per task, which is what gVisor makes expensive'
linear\t'Ansible\'s own `linear`, for a challenge that needs a behaviour Mitogen changes'"
complete -c sandbox -n "__fish_sandbox_using_subcommand run" -l distro -d 'Only these platforms (repeatable); catalog names such as debian-12' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand run" -l timeout -d 'Override the challenge\'s timeout (e.g. 90s, 10m)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand run" -l solution -d 'Apply the reference solution instead of the starter playbook'
complete -c sandbox -n "__fish_sandbox_using_subcommand run" -l offline -d 'No route out: the challenge\'s prepared packages are the only package source'
complete -c sandbox -n "__fish_sandbox_using_subcommand run" -l no-pool -d 'Start every target cold even when `sandbox pool up` keeps warm ones'
complete -c sandbox -n "__fish_sandbox_using_subcommand run" -s v -d 'Ansible\'s verbosity, passed to ansible-playbook (-v, -vv, -vvv)'
complete -c sandbox -n "__fish_sandbox_using_subcommand run" -l diff -d 'Show what changed tasks change in both passes (ansible-playbook --diff; pass 2 always shows it)'
complete -c sandbox -n "__fish_sandbox_using_subcommand run" -l json -d 'Print a JSON report on stdout (live output moves to stderr)'
complete -c sandbox -n "__fish_sandbox_using_subcommand run" -l show-inventory -d 'Print the Ansible inventory the run uses'
complete -c sandbox -n "__fish_sandbox_using_subcommand run" -l timings -d 'Print where the run\'s time went, phase by phase (JSON always has `timings`)'
complete -c sandbox -n "__fish_sandbox_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sandbox -n "__fish_sandbox_using_subcommand test" -s j -l jobs -d 'Runs at a time (default: what the machine\'s cores and memory allow)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand test" -l junit -d 'Write a JUnit XML report here (one testsuite per challenge)' -r -F
complete -c sandbox -n "__fish_sandbox_using_subcommand test" -l runtime -d 'Container runtime (default: the config\'s, else runsc)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand test" -l partition -d 'Run only share K of N, for CI shards (a matrix job, GitLab\'s `parallel:`). `K/N` balances the shares by --durations when given, else by count; `hash:K/N` places each challenge by a hash of its id, so it keeps its share as others come and go. The same tree gives the same shares on every machine; the N shares together are every challenge' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand test" -l durations -d 'Durations of an earlier run to balance --partition K/N by: a --save-durations file, or the --json report or --junit file of that run (missing: balanced by count)' -r -F
complete -c sandbox -n "__fish_sandbox_using_subcommand test" -l save-durations -d 'After the run, write each challenge\'s duration here (merged into the file when it exists, so shards can share one), for a later --durations' -r -F
complete -c sandbox -n "__fish_sandbox_using_subcommand test" -l changed-since -d 'Only the challenges whose files changed between REF and the work tree (per `git`: committed, staged, unstaged, untracked), or every challenge when a file they all depend on changed: mocks/, src/images/ and scripts/setup.sh (sandbox\'s own image inputs), any roles/ directory outside a challenge, and each --shared path. Other files (README, CI files) select nothing. Prints what it selected and why' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand test" -l shared -d 'With --changed-since: a change under PATH selects every challenge (repeatable)' -r -F
complete -c sandbox -n "__fish_sandbox_using_subcommand test" -l json -d 'Print a JSON report on stdout (progress moves to stderr)'
complete -c sandbox -n "__fish_sandbox_using_subcommand test" -l list -d 'Print the selected challenges\' directories, one a line (with --json, the selection and why), and run nothing: no Docker needed'
complete -c sandbox -n "__fish_sandbox_using_subcommand test" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand lint" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand new" -l distro -d 'Platforms (repeatable; default debian-12); for a Docker challenge, the base images its Dockerfile may use (default: every one)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand new" -l track -d 'What the learner writes: a playbook (ansible) or a Dockerfile (docker)' -r -f -a "ansible\t''
docker\t''"
complete -c sandbox -n "__fish_sandbox_using_subcommand new" -l checks -d 'How an Ansible challenge checks its targets: a check.sh script, or a goss file (assertions as data, each a named check in the report)' -r -f -a "script\t'check.sh, one FAIL line per unmet requirement'
goss\t'goss.yaml, named by `[checks] goss`'"
complete -c sandbox -n "__fish_sandbox_using_subcommand new" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sandbox -n "__fish_sandbox_using_subcommand shell" -l distro -d 'The target to open the shell in (default: the challenge\'s first distro)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand shell" -l playbook -d 'Apply this playbook instead of the starter (relative paths resolve in the challenge)' -r -F
complete -c sandbox -n "__fish_sandbox_using_subcommand shell" -l runtime -d 'Container runtime (default: the config\'s, else runsc); anything but runsc weakens isolation and says so' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand shell" -l services -d 'Override the challenge\'s services mode: mock, supervised or systemd' -r -f -a "mock\t'Records state, runs nothing: fast, and enough for most challenges'
supervised\t'A small service manager: unit files are read and their commands really run'
systemd\t'Real systemd as PID 1, where the runtime can do it'"
complete -c sandbox -n "__fish_sandbox_using_subcommand shell" -l strategy -d 'Override the challenge\'s Ansible strategy (default mitogen: Mitogen\'s accelerated linear; linear: Ansible\'s own)' -r -f -a "mitogen\t'Mitogen\'s `mitogen_linear`: one Python interpreter per host for the whole play instead of a process per task, which is what gVisor makes expensive'
linear\t'Ansible\'s own `linear`, for a challenge that needs a behaviour Mitogen changes'"
complete -c sandbox -n "__fish_sandbox_using_subcommand shell" -l solution -d 'Apply the reference solution instead of the starter playbook'
complete -c sandbox -n "__fish_sandbox_using_subcommand shell" -l offline -d 'No route out: the challenge\'s prepared packages are the only package source'
complete -c sandbox -n "__fish_sandbox_using_subcommand shell" -l no-pool -d 'Start every target cold even when `sandbox pool up` keeps warm ones'
complete -c sandbox -n "__fish_sandbox_using_subcommand shell" -s v -d 'Ansible\'s verbosity, passed to ansible-playbook (-v, -vv, -vvv)'
complete -c sandbox -n "__fish_sandbox_using_subcommand shell" -l diff -d 'Show what changed tasks change in both passes (ansible-playbook --diff; pass 2 always shows it)'
complete -c sandbox -n "__fish_sandbox_using_subcommand shell" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sandbox -n "__fish_sandbox_using_subcommand draft-goss" -l distro -d 'The target to describe (default: the challenge\'s first distro)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand draft-goss" -s o -l output -d 'Where to write the draft (default: goss.yaml in the challenge); never overwritten' -r -F
complete -c sandbox -n "__fish_sandbox_using_subcommand draft-goss" -l playbook -d 'Apply this playbook instead of the starter (relative paths resolve in the challenge)' -r -F
complete -c sandbox -n "__fish_sandbox_using_subcommand draft-goss" -l runtime -d 'Container runtime (default: the config\'s, else runsc); anything but runsc weakens isolation and says so' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand draft-goss" -l services -d 'Override the challenge\'s services mode: mock, supervised or systemd' -r -f -a "mock\t'Records state, runs nothing: fast, and enough for most challenges'
supervised\t'A small service manager: unit files are read and their commands really run'
systemd\t'Real systemd as PID 1, where the runtime can do it'"
complete -c sandbox -n "__fish_sandbox_using_subcommand draft-goss" -l strategy -d 'Override the challenge\'s Ansible strategy (default mitogen: Mitogen\'s accelerated linear; linear: Ansible\'s own)' -r -f -a "mitogen\t'Mitogen\'s `mitogen_linear`: one Python interpreter per host for the whole play instead of a process per task, which is what gVisor makes expensive'
linear\t'Ansible\'s own `linear`, for a challenge that needs a behaviour Mitogen changes'"
complete -c sandbox -n "__fish_sandbox_using_subcommand draft-goss" -l solution -d 'Apply the reference solution instead of the starter playbook'
complete -c sandbox -n "__fish_sandbox_using_subcommand draft-goss" -l offline -d 'No route out: the challenge\'s prepared packages are the only package source'
complete -c sandbox -n "__fish_sandbox_using_subcommand draft-goss" -l no-pool -d 'Start every target cold even when `sandbox pool up` keeps warm ones'
complete -c sandbox -n "__fish_sandbox_using_subcommand draft-goss" -s v -d 'Ansible\'s verbosity, passed to ansible-playbook (-v, -vv, -vvv)'
complete -c sandbox -n "__fish_sandbox_using_subcommand draft-goss" -l diff -d 'Show what changed tasks change in both passes (ansible-playbook --diff; pass 2 always shows it)'
complete -c sandbox -n "__fish_sandbox_using_subcommand draft-goss" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sandbox -n "__fish_sandbox_using_subcommand watch" -l playbook -d 'Apply this playbook instead of the starter (relative paths resolve in the challenge)' -r -F
complete -c sandbox -n "__fish_sandbox_using_subcommand watch" -l runtime -d 'Container runtime (default: the config\'s, else runsc); anything but runsc weakens isolation and says so' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand watch" -l services -d 'Override the challenge\'s services mode: mock, supervised or systemd' -r -f -a "mock\t'Records state, runs nothing: fast, and enough for most challenges'
supervised\t'A small service manager: unit files are read and their commands really run'
systemd\t'Real systemd as PID 1, where the runtime can do it'"
complete -c sandbox -n "__fish_sandbox_using_subcommand watch" -l strategy -d 'Override the challenge\'s Ansible strategy (default mitogen: Mitogen\'s accelerated linear; linear: Ansible\'s own)' -r -f -a "mitogen\t'Mitogen\'s `mitogen_linear`: one Python interpreter per host for the whole play instead of a process per task, which is what gVisor makes expensive'
linear\t'Ansible\'s own `linear`, for a challenge that needs a behaviour Mitogen changes'"
complete -c sandbox -n "__fish_sandbox_using_subcommand watch" -l distro -d 'Only these platforms (repeatable); catalog names such as debian-12' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand watch" -l timeout -d 'Override the challenge\'s timeout (e.g. 90s, 10m)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand watch" -l solution -d 'Apply the reference solution instead of the starter playbook'
complete -c sandbox -n "__fish_sandbox_using_subcommand watch" -l offline -d 'No route out: the challenge\'s prepared packages are the only package source'
complete -c sandbox -n "__fish_sandbox_using_subcommand watch" -l no-pool -d 'Start every target cold even when `sandbox pool up` keeps warm ones'
complete -c sandbox -n "__fish_sandbox_using_subcommand watch" -s v -d 'Ansible\'s verbosity, passed to ansible-playbook (-v, -vv, -vvv)'
complete -c sandbox -n "__fish_sandbox_using_subcommand watch" -l diff -d 'Show what changed tasks change in both passes (ansible-playbook --diff; pass 2 always shows it)'
complete -c sandbox -n "__fish_sandbox_using_subcommand watch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and not __fish_seen_subcommand_from up status down teardown refill help" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and not __fish_seen_subcommand_from up status down teardown refill help" -f -a "up" -d 'Start warm targets and keep them (default: 2 each for debian-12, ubuntu-22.04 and rocky-9 where their images exist, or the config\'s [pool])'
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and not __fish_seen_subcommand_from up status down teardown refill help" -f -a "status" -d 'Ready, warming and target per distro'
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and not __fish_seen_subcommand_from up status down teardown refill help" -f -a "down" -d 'Remove every idle warm target'
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and not __fish_seen_subcommand_from up status down teardown refill help" -f -a "teardown" -d 'Remove what a run leaves, then warm its replacements (what a run hands over once its verdict is known)'
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and not __fish_seen_subcommand_from up status down teardown refill help" -f -a "refill" -d 'Warm replacements for one kind up to the pool\'s size (what a run hands over when it took warm containers), or for one recipe of warm sets'
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and not __fish_seen_subcommand_from up status down teardown refill help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from up" -l size -d 'Warm targets per distro (with --challenge: warm sets, default 1)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from up" -l distro -d 'Only these distros (repeatable)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from up" -l challenge -d 'Keep whole attempts of this challenge warm (its targets and a controller, connected, Ansible loaded): a run of it then only does the learner\'s work' -r -F
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from up" -l runtime -d 'Container runtime (default: the config\'s, else runsc)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from up" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from down" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from teardown" -l container -d 'A container claimed from the pool (repeatable)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from teardown" -l label -d 'Everything carrying this label (repeatable)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from teardown" -l refill-set -d 'Warm a replacement set of this recipe afterwards' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from teardown" -l refill -d 'Warm a replacement of this kind from this image afterwards (repeatable)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from teardown" -l namespace -d 'The pool\'s namespace (default: the CLI\'s)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from teardown" -l runtime -r
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from teardown" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from refill" -l kind -d '`controller` or a distro\'s catalog name' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from refill" -l image -d 'The image the replacements are made from' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from refill" -l set -d 'A recipe of warm sets (its id in the pool\'s registry)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from refill" -l namespace -d 'The pool\'s namespace (default: the CLI\'s)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from refill" -l runtime -r
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from refill" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from help" -f -a "up" -d 'Start warm targets and keep them (default: 2 each for debian-12, ubuntu-22.04 and rocky-9 where their images exist, or the config\'s [pool])'
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from help" -f -a "status" -d 'Ready, warming and target per distro'
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from help" -f -a "down" -d 'Remove every idle warm target'
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from help" -f -a "teardown" -d 'Remove what a run leaves, then warm its replacements (what a run hands over once its verdict is known)'
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from help" -f -a "refill" -d 'Warm replacements for one kind up to the pool\'s size (what a run hands over when it took warm containers), or for one recipe of warm sets'
complete -c sandbox -n "__fish_sandbox_using_subcommand pool; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sandbox -n "__fish_sandbox_using_subcommand list" -l json -d 'Print a JSON array on stdout'
complete -c sandbox -n "__fish_sandbox_using_subcommand list" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand start" -l dir -d 'Where to make the workspace (default: ./NAME); it must not exist' -r -F
complete -c sandbox -n "__fish_sandbox_using_subcommand start" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand show" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand hint" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand reset" -s y -l yes -d 'Do not ask: discard the edits'
complete -c sandbox -n "__fish_sandbox_using_subcommand reset" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand doctor" -l runtime -d 'The runtime to check (default: the config\'s, else runsc)' -r
complete -c sandbox -n "__fish_sandbox_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand images; and not __fish_seen_subcommand_from build list help" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand images; and not __fish_seen_subcommand_from build list help" -f -a "build" -d 'Build prepared images (target per distro, and the controller); all available by default'
complete -c sandbox -n "__fish_sandbox_using_subcommand images; and not __fish_seen_subcommand_from build list help" -f -a "list" -d 'Show which base and prepared images exist'
complete -c sandbox -n "__fish_sandbox_using_subcommand images; and not __fish_seen_subcommand_from build list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sandbox -n "__fish_sandbox_using_subcommand images; and __fish_seen_subcommand_from build" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand images; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand images; and __fish_seen_subcommand_from help" -f -a "build" -d 'Build prepared images (target per distro, and the controller); all available by default'
complete -c sandbox -n "__fish_sandbox_using_subcommand images; and __fish_seen_subcommand_from help" -f -a "list" -d 'Show which base and prepared images exist'
complete -c sandbox -n "__fish_sandbox_using_subcommand images; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sandbox -n "__fish_sandbox_using_subcommand completions" -s h -l help -d 'Print help'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run test lint new shell draft-goss watch pool list start show hint reset doctor images completions help" -f -a "run" -d 'Run a challenge\'s playbook twice on every platform and verify it after each pass'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run test lint new shell draft-goss watch pool list start show hint reset doctor images completions help" -f -a "test" -d 'Prove challenges: each solution must pass on every platform and each starter must fail'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run test lint new shell draft-goss watch pool list start show hint reset doctor images completions help" -f -a "lint" -d 'Check challenges without Docker: manifest, files, check.sh, playbooks'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run test lint new shell draft-goss watch pool list start show hint reset doctor images completions help" -f -a "new" -d 'Scaffold a new challenge that passes `lint` and `test` as written'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run test lint new shell draft-goss watch pool list start show hint reset doctor images completions help" -f -a "shell" -d 'Run a challenge\'s playbook once, then open a shell in a target; removed on exit'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run test lint new shell draft-goss watch pool list start show hint reset doctor images completions help" -f -a "draft-goss" -d 'Apply the reference solution once, then write a goss file describing what it set up (the packages, services, users, groups and files its tasks name) for you to edit'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run test lint new shell draft-goss watch pool list start show hint reset doctor images completions help" -f -a "watch" -d 'Run the challenge again whenever one of its files changes, on warm targets; Ctrl-C removes everything'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run test lint new shell draft-goss watch pool list start show hint reset doctor images completions help" -f -a "pool" -d 'Keep warm targets between runs: up, status, down'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run test lint new shell draft-goss watch pool list start show hint reset doctor images completions help" -f -a "list" -d 'List the library\'s challenges with your progress: new, attempted, solved'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run test lint new shell draft-goss watch pool list start show hint reset doctor images completions help" -f -a "start" -d 'Copy a challenge into a workspace of your own (without its solution) and say what next'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run test lint new shell draft-goss watch pool list start show hint reset doctor images completions help" -f -a "show" -d 'Print a challenge\'s task'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run test lint new shell draft-goss watch pool list start show hint reset doctor images completions help" -f -a "hint" -d 'Print a challenge\'s next hint (one more each time)'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run test lint new shell draft-goss watch pool list start show hint reset doctor images completions help" -f -a "reset" -d 'Put a workspace\'s starter files back (your edits are discarded)'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run test lint new shell draft-goss watch pool list start show hint reset doctor images completions help" -f -a "doctor" -d 'Check that Docker, the runtime and the images are ready'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run test lint new shell draft-goss watch pool list start show hint reset doctor images completions help" -f -a "images" -d 'Build or list the prepared images'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run test lint new shell draft-goss watch pool list start show hint reset doctor images completions help" -f -a "completions" -d 'Print shell completions'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and not __fish_seen_subcommand_from run test lint new shell draft-goss watch pool list start show hint reset doctor images completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and __fish_seen_subcommand_from pool" -f -a "up" -d 'Start warm targets and keep them (default: 2 each for debian-12, ubuntu-22.04 and rocky-9 where their images exist, or the config\'s [pool])'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and __fish_seen_subcommand_from pool" -f -a "status" -d 'Ready, warming and target per distro'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and __fish_seen_subcommand_from pool" -f -a "down" -d 'Remove every idle warm target'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and __fish_seen_subcommand_from pool" -f -a "teardown" -d 'Remove what a run leaves, then warm its replacements (what a run hands over once its verdict is known)'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and __fish_seen_subcommand_from pool" -f -a "refill" -d 'Warm replacements for one kind up to the pool\'s size (what a run hands over when it took warm containers), or for one recipe of warm sets'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and __fish_seen_subcommand_from images" -f -a "build" -d 'Build prepared images (target per distro, and the controller); all available by default'
complete -c sandbox -n "__fish_sandbox_using_subcommand help; and __fish_seen_subcommand_from images" -f -a "list" -d 'Show which base and prepared images exist'
