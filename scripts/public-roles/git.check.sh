pkg git
v=$(git --version 2>&1) && ok "$v" || fail "git does not run: $v"
