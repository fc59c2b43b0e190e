go 1.22

use (
	./a
	../b
)

replace example.com/x v1.0.0 => example.com/y v1.1.0
