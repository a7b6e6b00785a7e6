pkg postfix; proc master; active postfix; enabled postfix; listening 25; banner 25 '' '^220 '
