pkg apache2; proc apache2; active apache2; enabled apache2; listening 80; http 80
